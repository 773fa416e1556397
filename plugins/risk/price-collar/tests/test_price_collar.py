"""price-collar: limit/stop prices far from the last trade price are rejected (fat finger)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ml4t.backtest import OrderSide, OrderType
from ml4t_live_risk_price_collar.check import PriceCollarCheck, PriceCollarConfig
from ml4t_live_testing.risk import assert_registered_check, order_request, risk_context
from pydantic import ValidationError

CHECK = PriceCollarCheck(PriceCollarConfig(max_deviation_pct=5.0))


def decide(context, request, check=CHECK):
    return check.ml4t_live_check_order(order=request, context=context)


def test_limit_just_inside_the_collar_passes_and_just_outside_is_rejected():
    context = risk_context(prices={"AAPL": 150.0})
    inside = order_request(context, "AAPL", 10, order_type=OrderType.LIMIT, limit_price=157.5)
    outside = order_request(context, "AAPL", 10, order_type=OrderType.LIMIT, limit_price=157.51)
    assert decide(context, inside) is None
    rejection = decide(context, outside)
    assert rejection is not None and rejection.check == "price-collar"
    assert rejection.reason == "limit 157.51 is 5.0% from last 150.00 (max 5.0%)"


def test_fat_finger_reason_carries_the_numbers():
    context = risk_context(prices={"AAPL": 150.0})
    rejection = decide(
        context, order_request(context, "AAPL", 10, order_type=OrderType.LIMIT, limit_price=1500.0)
    )
    assert str(rejection) == "price-collar: limit 1,500.00 is 900.0% from last 150.00 (max 5.0%)"


def test_stop_price_below_the_collar_is_rejected_and_inside_passes():
    context = risk_context(prices={"AAPL": 100.0})
    inside = order_request(context, "AAPL", 10, OrderSide.SELL, OrderType.STOP, stop_price=95.0)
    outside = order_request(context, "AAPL", 10, OrderSide.SELL, OrderType.STOP, stop_price=94.99)
    assert decide(context, inside) is None
    assert decide(context, outside).reason.startswith("stop 94.99 is 5.0% from last 100.00")


def test_stop_limit_is_rejected_when_either_price_is_outside():
    context = risk_context(prices={"AAPL": 100.0})
    request = order_request(
        context,
        "AAPL",
        10,
        OrderSide.BUY,
        OrderType.STOP_LIMIT,
        limit_price=104.0,
        stop_price=120.0,
    )
    assert decide(context, request).reason.startswith("stop 120.00 is 20.0%")


def test_market_order_without_a_known_price_is_rejected():
    context = risk_context(prices={"AAPL": 150.0})
    rejection = decide(context, order_request(context, "MSFT", 10))
    assert rejection.check == "price-collar" and "no last trade price for MSFT" in rejection.reason
    assert decide(context, order_request(context, "AAPL", 10)) is None


def test_limit_without_a_known_last_price_is_rejected():
    context = risk_context(prices={})
    request = order_request(context, "AAPL", 10, order_type=OrderType.LIMIT, limit_price=150.0)
    assert "a limit order cannot be checked" in decide(context, request).reason


def test_close_orders_are_still_collared():
    context = risk_context(positions={"AAPL": 10}, prices={"AAPL": 150.0})
    request = order_request(
        context, "AAPL", 10, OrderSide.SELL, OrderType.LIMIT, limit_price=15.0, is_close=True
    )
    assert request.is_close and request.reduces_position
    assert decide(context, request).check == "price-collar"


def test_default_collar_is_ten_percent():
    check = PriceCollarCheck(PriceCollarConfig())
    context = risk_context(prices={"AAPL": 100.0})
    assert (
        decide(
            context,
            order_request(context, "AAPL", 1, order_type=OrderType.LIMIT, limit_price=110.0),
            check,
        )
        is None
    )
    assert decide(
        context,
        order_request(context, "AAPL", 1, order_type=OrderType.LIMIT, limit_price=110.01),
        check,
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"max_deviation_pct": 0},
        {"max_deviation_pct": -1},
        {"max_deviation_pct": float("nan")},
        {"max_deviation_pct": float("inf")},
        {"max_deviation": 5},
    ],
)
def test_bad_config_is_refused(bad):
    with pytest.raises(ValidationError):
        PriceCollarConfig.model_validate(bad)


@given(last=st.floats(0.01, 1e6), pct=st.floats(-99.0, 500.0), limit=st.floats(0.5, 50.0))
def test_accepts_exactly_the_prices_within_the_collar(last, pct, limit):
    price = last * (1 + pct / 100)
    context = risk_context(prices={"X": last})
    request = order_request(context, "X", 1, order_type=OrderType.LIMIT, limit_price=price)
    rejection = decide(
        context, request, PriceCollarCheck(PriceCollarConfig(max_deviation_pct=limit))
    )
    deviation = abs(price - last) / last * 100
    if deviation > limit + 1e-6:
        assert rejection is not None and rejection.check == "price-collar"
    elif deviation < limit - 1e-6:
        assert rejection is None


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("price-collar")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("price-collar", PriceCollarCheck, PriceCollarConfig)


def test_bad_value_in_the_config_file_names_section_and_key(load_only):
    from ml4t_live_core.compose import load_config
    from ml4t_live_core.errors import ConfigError

    load_only("sim", "price-collar")  # a config needs a broker to validate against
    cfg, _ = load_config(overrides={"risk": {"price-collar": {"max_deviation_pct": 2.5}}})
    assert cfg.risk["price-collar"] == PriceCollarConfig(max_deviation_pct=2.5)
    with pytest.raises(ConfigError, match="risk.price-collar.*max_deviation_pct"):
        load_config(overrides={"risk": {"price-collar": {"max_deviation_pct": -3}}})
