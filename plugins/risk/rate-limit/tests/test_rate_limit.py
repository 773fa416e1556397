"""rate-limit: at most max_orders accepted orders per rolling window."""

from __future__ import annotations

import pytest
from ml4t_live_risk_rate_limit.check import RateLimitCheck, RateLimitConfig
from ml4t_live_testing.risk import assert_registered_check, order_request, risk_context
from pydantic import ValidationError


@pytest.fixture
def context():
    return risk_context(positions={"AAPL": 100.0}, prices={"AAPL": 150.0, "MSFT": 300.0})


def _decide(check, context, *args, **kwargs):
    return check.ml4t_live_check_order(
        order=order_request(context, *args, **kwargs), context=context
    )


def _accept(check, context, *args, **kwargs):
    request = order_request(context, *args, **kwargs)
    assert check.ml4t_live_check_order(order=request, context=context) is None
    check.ml4t_live_on_order_accepted(order=request, context=context)


def test_max_orders_pass_and_the_next_is_rejected_with_the_numbers(context):
    check = RateLimitCheck(RateLimitConfig(max_orders=3, per_seconds=10))
    for quantity in (1, 2, 3):
        _accept(check, context, "MSFT", quantity)
        context.clock.advance(1)
    rejection = _decide(check, context, "MSFT", 4)
    assert rejection is not None and rejection.check == "rate-limit"
    assert "3 orders in the last 10s" in rejection.reason and "max 3" in rejection.reason


def test_window_rolls(context):
    check = RateLimitCheck(RateLimitConfig(max_orders=2, per_seconds=10))
    _accept(check, context, "MSFT", 1)  # t=0
    context.clock.advance(5)
    _accept(check, context, "MSFT", 2)  # t=5
    context.clock.advance(4.999)
    assert _decide(check, context, "MSFT", 3) is not None  # t=9.999: both still inside
    context.clock.advance(0.001)
    assert _decide(check, context, "MSFT", 3) is None  # t=10: the first has left the window


def test_rejected_orders_are_not_counted(context):
    check = RateLimitCheck(RateLimitConfig(max_orders=1, per_seconds=60))
    for _ in range(5):
        assert _decide(check, context, "MSFT", 1) is None  # never accepted, never counted
    _accept(check, context, "MSFT", 1)
    assert _decide(check, context, "MSFT", 2) is not None


def test_a_reducing_close_is_never_throttled(context):
    check = RateLimitCheck(RateLimitConfig(max_orders=1, per_seconds=60))
    _accept(check, context, "MSFT", 1)
    assert _decide(check, context, "AAPL", -100, is_close=True) is None
    assert _decide(check, context, "AAPL", -100) is not None  # the same order, not a close


def test_defaults_are_on_and_generous():
    config = RateLimitConfig()
    assert config.max_orders >= 100 and config.per_seconds > 0


@pytest.mark.parametrize(
    "values, key",
    [
        ({"max_orders": 0}, "max_orders"),
        ({"max_orders": 2.5}, "max_orders"),
        ({"per_seconds": 0}, "per_seconds"),
        ({"per_seconds": float("inf")}, "per_seconds"),
        ({"per_minute": 5}, "per_minute"),
    ],
)
def test_bad_settings_are_config_errors(values, key):
    with pytest.raises(ValidationError, match=key):
        RateLimitConfig.model_validate(values)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("rate-limit")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("rate-limit", RateLimitCheck, RateLimitConfig)
