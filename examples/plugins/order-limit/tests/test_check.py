"""max-orders-per-day: the order past the limit is rejected; a new day and closes pass."""

from __future__ import annotations

import pytest
from ml4t_example_order_limit.check import MaxOrdersPerDayCheck, MaxOrdersPerDayConfig
from ml4t_live_testing.risk import assert_registered_check, order_request, risk_context
from pydantic import ValidationError


def _send(check, context, asset="AAPL", quantity=1.0, **kwargs):
    request = order_request(context, asset, quantity, **kwargs)
    rejection = check.ml4t_live_check_order(order=request, context=context)
    if rejection is None:
        check.ml4t_live_on_order_accepted(order=request, context=context)
    return rejection


def test_the_order_past_the_limit_is_rejected_with_the_numbers():
    check = MaxOrdersPerDayCheck(MaxOrdersPerDayConfig(max_orders=2))
    context = risk_context(prices={"AAPL": 100.0, "MSFT": 50.0})
    assert _send(check, context) is None
    assert _send(check, context) is None
    rejection = _send(check, context)
    assert rejection is not None and rejection.check == "max-orders-per-day"
    assert "AAPL: 2 orders already sent today (max 2)" in rejection.reason
    assert _send(check, context, "MSFT") is None  # per asset


def test_a_new_trading_day_resets_the_count():
    check = MaxOrdersPerDayCheck(MaxOrdersPerDayConfig(max_orders=1))
    context = risk_context(prices={"AAPL": 100.0})
    assert _send(check, context) is None
    assert _send(check, context) is not None
    context.clock.advance(86_400)
    assert _send(check, context) is None


def test_off_unless_set():
    check = MaxOrdersPerDayCheck()
    context = risk_context(prices={"AAPL": 100.0})
    assert all(_send(check, context) is None for _ in range(50))


def test_closing_a_position_always_passes():
    check = MaxOrdersPerDayCheck(MaxOrdersPerDayConfig(max_orders=1))
    context = risk_context(positions={"AAPL": 5.0}, prices={"AAPL": 100.0})
    assert _send(check, context) is None
    assert _send(check, context, quantity=5.0, is_close=True) is None


@pytest.mark.parametrize("bad", [0, -1])
def test_a_non_positive_limit_is_a_config_error(bad):
    with pytest.raises(ValidationError, match="max_orders"):
        MaxOrdersPerDayConfig(max_orders=bad)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("max-orders-per-day")  # this plugin alone, as `nox -s isolation` would install it
    assert_registered_check("max-orders-per-day", MaxOrdersPerDayCheck, MaxOrdersPerDayConfig)
