"""duplicate: the same asset, side and quantity within the window, armed only by accepted orders."""

from __future__ import annotations

import pytest
from ml4t.backtest import OrderSide, OrderStatus
from ml4t_live_risk_duplicate.check import DuplicateCheck, DuplicateConfig
from ml4t_live_testing.risk import assert_registered_check, order_request, risk_context
from pydantic import ValidationError

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.plugins import new_plugin_manager
from ml4t_live_core.risk import Rejection


@pytest.fixture
def context():
    return risk_context(prices={"AAPL": 150.0, "MSFT": 300.0})


def _accept(check, context, *args, **kwargs):
    request = order_request(context, *args, **kwargs)
    assert check.ml4t_live_check_order(order=request, context=context) is None
    check.ml4t_live_on_order_accepted(order=request, context=context)


def _decide(check, context, *args, **kwargs):
    return check.ml4t_live_check_order(
        order=order_request(context, *args, **kwargs), context=context
    )


def test_same_order_within_window_is_rejected_and_after_it_passes(context):
    check = DuplicateCheck(DuplicateConfig(window_seconds=5))
    _accept(check, context, "AAPL", 100)
    context.clock.advance(4.999)
    rejection = _decide(check, context, "AAPL", 100)
    assert rejection is not None and rejection.check == "duplicate"
    assert "BUY 100 AAPL" in rejection.reason and "5s" in rejection.reason
    context.clock.advance(0.001)  # exactly at the window: no longer a duplicate
    assert _decide(check, context, "AAPL", 100) is None


def test_different_asset_side_or_quantity_is_not_a_duplicate(context):
    check = DuplicateCheck()
    _accept(check, context, "AAPL", 100)
    assert _decide(check, context, "MSFT", 100) is None
    assert _decide(check, context, "AAPL", 100, OrderSide.SELL) is None
    assert _decide(check, context, "AAPL", 101) is None
    assert _decide(check, context, "aapl ", 100) is not None  # same symbol once normalised


def test_a_rejected_order_does_not_arm_the_window(context):
    check = DuplicateCheck()
    request = order_request(context, "AAPL", 100)
    assert check.ml4t_live_check_order(order=request, context=context) is None
    # Another check rejected it: on_order_accepted is never called.
    assert _decide(check, context, "AAPL", 100) is None


def test_clock_going_backwards_fails_closed(context):
    check = DuplicateCheck(DuplicateConfig(window_seconds=2))
    _accept(check, context, "AAPL", 100)
    context.clock.advance(-3600)
    assert _decide(check, context, "AAPL", 100) is not None


def test_expired_entries_are_pruned(context):
    check = DuplicateCheck(DuplicateConfig(window_seconds=1))
    for quantity in range(1, 50):
        _accept(check, context, "AAPL", quantity)
        context.clock.advance(2)
    assert len(check._last) == 1


def test_default_window_is_short_and_on():
    assert 0 < DuplicateConfig().window_seconds <= 5


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "soon"])
def test_bad_window_is_a_config_error(value):
    with pytest.raises(ValidationError, match="window_seconds"):
        DuplicateConfig.model_validate({"window_seconds": value})


class _RejectsFirstOrder:
    """Another check that objects to the first order only (an in-process test plugin)."""

    def __init__(self) -> None:
        self.seen = 0

    @hookimpl
    def ml4t_live_check_order(self, order, context):
        self.seen += 1
        return Rejection("other", "first order refused") if self.seen == 1 else None


async def test_through_safebroker_only_an_order_that_was_sent_arms_the_window(context):
    pm = new_plugin_manager()
    pm.register(DuplicateCheck(DuplicateConfig(window_seconds=5)), name="duplicate")
    pm.register(_RejectsFirstOrder(), name="other")
    context.hooks = pm.hook
    await context.venue.connect()
    first = await context.submit_order("AAPL", 100)
    assert first.status is OrderStatus.REJECTED and "other" in first.rejection_reason
    second = await context.submit_order("AAPL", 100)  # not a duplicate: the first never went out
    assert second.status is not OrderStatus.REJECTED, second.rejection_reason
    third = await context.submit_order("AAPL", 100)
    assert third.status is OrderStatus.REJECTED and "duplicate" in third.rejection_reason


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("duplicate")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("duplicate", DuplicateCheck, DuplicateConfig)
