"""order-size: max shares and max value of one order, at the limit or the last market price."""

from __future__ import annotations

import pytest
from ml4t.backtest import OrderSide, OrderType
from ml4t_live_risk_order_size.check import OrderSizeCheck, OrderSizeConfig
from ml4t_live_testing.risk import assert_registered_check, order_request, risk_context
from pydantic import ValidationError


def _context(**kwargs):
    return risk_context(
        positions={"AAPL": 500.0},
        prices={"AAPL": 100.0, "ES": 5_000.0},
        multipliers={"ES": 50.0},
        **kwargs,
    )


def _decide(config: dict, *args, context=None, **kwargs):
    context = context or _context()
    check = OrderSizeCheck(OrderSizeConfig.model_validate(config))
    return check.ml4t_live_check_order(
        order=order_request(context, *args, **kwargs), context=context
    )


def test_max_shares_boundary():
    assert _decide({"max_shares": 100}, "AAPL", 100) is None
    rejection = _decide({"max_shares": 100}, "AAPL", 100.5)
    assert rejection is not None and rejection.check == "order-size"
    assert rejection.reason == "quantity 100.5 > max 100"


def test_max_value_boundary_at_last_price():
    assert _decide({"max_value": 10_000}, "AAPL", 100) is None  # exactly $10,000
    rejection = _decide({"max_value": 10_000}, "AAPL", 101)
    assert rejection is not None
    assert "value $10,100.00" in rejection.reason and "max $10,000.00" in rejection.reason


def test_limit_orders_are_valued_at_their_limit_price():
    assert (
        _decide({"max_value": 10_000}, "AAPL", 100, order_type=OrderType.LIMIT, limit_price=99.0)
        is None
    )
    rejection = _decide(
        {"max_value": 10_000}, "AAPL", 100, order_type=OrderType.LIMIT, limit_price=100.01
    )
    assert rejection is not None and "limit price" in rejection.reason


def test_value_includes_the_contract_multiplier():
    assert _decide({"max_value": 250_000}, "ES", 1) is None
    assert _decide({"max_value": 249_999}, "ES", 1) is not None


def test_market_order_without_a_known_price_is_rejected_when_max_value_is_set():
    rejection = _decide({"max_value": 10_000}, "NEWCO", 1)
    assert rejection is not None and "no known market price for NEWCO" in rejection.reason
    assert _decide({"max_shares": 10}, "NEWCO", 1) is None  # shares need no price


def test_sell_orders_are_sized_too():
    assert _decide({"max_shares": 100}, "AAPL", 200, OrderSide.SELL) is not None


def test_a_reducing_close_always_passes():
    assert _decide({"max_shares": 100, "max_value": 1_000}, "AAPL", -500, is_close=True) is None
    assert _decide({"max_shares": 100}, "AAPL", -500) is not None  # not a close: checked


def test_defaults_enforce_nothing():
    assert OrderSizeConfig() == OrderSizeConfig(max_shares=None, max_value=None)
    assert _decide({}, "AAPL", 1_000_000) is None


@pytest.mark.parametrize(
    "values, key",
    [
        ({"max_shares": 0}, "max_shares"),
        ({"max_shares": -5}, "max_shares"),
        ({"max_value": float("nan")}, "max_value"),
        ({"max_value": "lots"}, "max_value"),
        ({"max_notional": 5}, "max_notional"),
    ],
)
def test_bad_settings_are_config_errors(values, key):
    with pytest.raises(ValidationError, match=key):
        OrderSizeConfig.model_validate(values)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("order-size")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("order-size", OrderSizeCheck, OrderSizeConfig)
