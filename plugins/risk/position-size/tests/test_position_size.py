"""position-size: projected position (with same-side pending orders) within max shares / value."""

from __future__ import annotations

import pytest
from ml4t.backtest import OrderSide, OrderType
from ml4t_live_risk_position_size.check import PositionSizeCheck, PositionSizeConfig
from ml4t_live_testing.risk import add_pending, assert_registered_check, order_request, risk_context
from pydantic import ValidationError


def _context():
    return risk_context(
        positions={"AAPL": 300.0, "MSFT": -200.0},
        prices={"AAPL": 100.0, "MSFT": 50.0, "ES": 5_000.0},
        multipliers={"ES": 50.0},
    )


def _decide(config: dict, context, *args, **kwargs):
    check = PositionSizeCheck(PositionSizeConfig.model_validate(config))
    return check.ml4t_live_check_order(
        order=order_request(context, *args, **kwargs), context=context
    )


def test_max_shares_boundary_long():
    context = _context()
    assert _decide({"max_shares": 500}, context, "AAPL", 200) is None
    rejection = _decide({"max_shares": 500}, context, "AAPL", 201)
    assert rejection is not None and rejection.check == "position-size"
    assert "projected position 501" in rejection.reason and "max 500" in rejection.reason


def test_max_shares_boundary_short():
    context = _context()
    assert _decide({"max_shares": 500}, context, "MSFT", -300) is None
    assert _decide({"max_shares": 500}, context, "MSFT", -301) is not None


def test_pending_orders_on_the_same_side_count():
    context = _context()
    add_pending(context, "AAPL", 150, OrderSide.BUY)
    assert _decide({"max_shares": 500}, context, "AAPL", 50) is None  # 300 + 150 + 50
    rejection = _decide({"max_shares": 500}, context, "AAPL", 51)
    assert rejection is not None and "pending +150" in rejection.reason


def test_pending_orders_on_the_other_side_do_not_offset():
    context = _context()
    add_pending(context, "AAPL", 300, OrderSide.SELL)
    assert _decide({"max_shares": 500}, context, "AAPL", 201) is not None


def test_max_value_boundary():
    context = _context()
    assert _decide({"max_value": 50_000}, context, "AAPL", 200) is None  # 500 x $100
    rejection = _decide({"max_value": 50_000}, context, "AAPL", 201)
    assert rejection is not None and "$50,100.00" in rejection.reason


def test_value_includes_the_contract_multiplier():
    context = _context()
    assert _decide({"max_value": 500_000}, context, "ES", 2) is None
    assert _decide({"max_value": 500_000}, context, "ES", 3) is not None


def test_a_reducing_order_always_passes_even_above_the_limit():
    context = _context()
    assert _decide({"max_shares": 100, "max_value": 1_000}, context, "AAPL", -100) is None
    assert _decide({"max_shares": 100}, context, "AAPL", -401) is not None  # flips to -101: checked


def test_unknown_price_uses_the_limit_price_else_rejects():
    context = _context()
    assert (
        _decide(
            {"max_value": 1_000},
            context,
            "NEWCO",
            10,
            order_type=OrderType.LIMIT,
            limit_price=100.0,
        )
        is None
    )
    rejection = _decide({"max_value": 1_000}, context, "NEWCO", 10)
    assert rejection is not None and "no known market price for NEWCO" in rejection.reason


def test_defaults_enforce_nothing():
    assert _decide({}, _context(), "AAPL", 1_000_000) is None


@pytest.mark.parametrize(
    "values, key",
    [
        ({"max_shares": 0}, "max_shares"),
        ({"max_value": -1}, "max_value"),
        ({"max_value": float("inf")}, "max_value"),
        ({"shares": 5}, "shares"),
    ],
)
def test_bad_settings_are_config_errors(values, key):
    with pytest.raises(ValidationError, match=key):
        PositionSizeConfig.model_validate(values)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("position-size")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("position-size", PositionSizeCheck, PositionSizeConfig)
