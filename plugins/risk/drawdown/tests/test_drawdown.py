"""drawdown: equity too far below the persisted high-water mark halts (or reduces) trading."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ml4t.backtest import OrderSide
from ml4t_live_risk_drawdown.check import STATE_KEY, DrawdownCheck, DrawdownConfig
from ml4t_live_testing.risk import START, assert_registered_check, order_request, risk_context
from pydantic import ValidationError

from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import RiskState

PEAK = 100_000.0


def account(cash: float, *, peak: float = PEAK, positions=None):
    """A context whose equity is `cash` (+ positions) with a persisted high-water mark `peak`."""
    context = risk_context(cash=cash, positions=positions, prices={"A": 100.0})
    context.risk_state.high_water_mark = peak
    return context


def bar(check, context):
    check.ml4t_live_on_bar(timestamp=context.now, data={"A": {"close": 100.0}}, context=context)


def test_fall_just_inside_the_limit_keeps_trading_and_just_outside_halts():
    check = DrawdownCheck(DrawdownConfig(max_pct=10))
    inside = account(90_000.0)
    bar(check, inside)
    assert inside.trading_state is TradingState.ACTIVE
    assert check.ml4t_live_check_order(order=order_request(inside, "A", 1), context=inside) is None

    outside = account(89_999.0)
    bar(check, outside)
    assert outside.trading_state is TradingState.HALTED
    reason = "equity 89,999.00 is 10.00% below the high-water mark 100,000.00 (max 10.00%)"
    assert outside.risk_state.trading_state_reason == f"drawdown: {reason}"
    rejection = check.ml4t_live_check_order(order=order_request(outside, "A", 1), context=outside)
    assert rejection.check == "drawdown" and rejection.reason == reason


def test_halt_rejects_all_but_closes_while_breached():
    check = DrawdownCheck(DrawdownConfig(max_pct=5))
    context = account(80_000.0, positions={"A": 10})
    request = order_request(context, "A", 5, OrderSide.SELL)
    assert request.reduces_position
    assert check.ml4t_live_check_order(order=request, context=context).check == "drawdown"
    close = order_request(context, "A", 10, OrderSide.SELL, is_close=True)
    assert (
        check.ml4t_live_check_order(order=close, context=context) is None
    )  # getting out stays possible


def test_reduce_action_moves_to_reducing_and_lets_reducing_orders_through():
    check = DrawdownCheck(DrawdownConfig(max_pct=5, action="reduce"))
    context = account(80_000.0, positions={"A": 10})
    bar(check, context)
    assert context.trading_state is TradingState.REDUCING
    assert (
        check.ml4t_live_check_order(
            order=order_request(context, "A", 5, OrderSide.SELL), context=context
        )
        is None
    )
    assert (
        check.ml4t_live_check_order(order=order_request(context, "A", 5), context=context).check
        == "drawdown"
    )


def test_never_loosens_a_stricter_state():
    check = DrawdownCheck(DrawdownConfig(max_pct=5, action="reduce"))
    context = account(80_000.0)
    context.set_trading_state(TradingState.HALTED, "manual halt: news")
    bar(check, context)
    assert context.trading_state is TradingState.HALTED
    assert context.risk_state.trading_state_reason == "manual halt: news"


def test_a_resume_by_hand_is_not_undone_and_further_losses_halt_again():
    check = DrawdownCheck(DrawdownConfig(max_pct=10))
    context = account(85_000.0)
    bar(check, context)
    assert context.trading_state is TradingState.HALTED
    context.set_trading_state(TradingState.ACTIVE, "manual resume")
    bar(check, context)
    assert context.trading_state is TradingState.ACTIVE
    assert context.risk_state.extra[STATE_KEY]["resumed_at"] == 85_000.0
    assert (
        check.ml4t_live_check_order(order=order_request(context, "A", 1), context=context) is None
    )
    context.ledger.cash = 76_500.0  # exactly 10% below the resumption equity: still allowed
    bar(check, context)
    assert context.trading_state is TradingState.ACTIVE
    context.ledger.cash = 76_499.0
    bar(check, context)
    assert context.trading_state is TradingState.HALTED
    assert "below the equity at resumption 85,000.00" in context.risk_state.trading_state_reason


def test_a_new_high_water_mark_forgets_the_old_trip():
    check = DrawdownCheck(DrawdownConfig(max_pct=10))
    context = account(85_000.0)
    bar(check, context)
    context.set_trading_state(TradingState.ACTIVE, "manual resume")
    bar(check, context)
    context.ledger.cash = 120_000.0
    context.risk_state.high_water_mark = 120_000.0  # what the core does on a new high
    bar(check, context)
    assert STATE_KEY not in context.risk_state.extra
    context.ledger.cash = 107_999.0
    bar(check, context)
    assert context.trading_state is TradingState.HALTED
    assert "below the high-water mark 120,000.00" in context.risk_state.trading_state_reason


def test_trip_record_survives_a_state_round_trip():
    """The record rides in RiskState.extra, so a restarted process still knows about the halt."""
    check = DrawdownCheck(DrawdownConfig(max_pct=10))
    context = account(85_000.0)
    bar(check, context)
    restored = RiskState.from_dict(context.risk_state.to_dict())
    assert restored.trading_state is TradingState.HALTED and restored.high_water_mark == PEAK
    fresh = risk_context(cash=85_000.0)
    fresh.risk_state = restored
    bar(check, fresh)
    assert fresh.trading_state is TradingState.HALTED
    assert (
        check.ml4t_live_check_order(order=order_request(fresh, "A", 1), context=fresh).check
        == "drawdown"
    )


def test_core_high_water_mark_follows_equity_up_not_down():
    context = risk_context(cash=100_000.0)
    context._roll_day_and_marks(START)
    context.ledger.cash = 110_000.0
    context._roll_day_and_marks(START)
    context.ledger.cash = 95_000.0
    context._roll_day_and_marks(START)
    assert context.risk_state.high_water_mark == 110_000.0


def test_no_high_water_mark_yet_or_off_does_nothing():
    context = account(1.0)
    context.risk_state.high_water_mark = None
    check = DrawdownCheck(DrawdownConfig(max_pct=1))
    bar(check, context)
    assert context.trading_state is TradingState.ACTIVE
    off = account(1.0)
    bar(DrawdownCheck(DrawdownConfig()), off)
    assert off.trading_state is TradingState.ACTIVE


@pytest.mark.parametrize(
    "bad",
    [
        {"max_pct": 0},
        {"max_pct": 100},
        {"max_pct": float("nan")},
        {"action": "flatten"},
        {"max": 5},
    ],
)
def test_bad_config_is_refused(bad):
    with pytest.raises(ValidationError):
        DrawdownConfig.model_validate(bad)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("drawdown")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("drawdown", DrawdownCheck, DrawdownConfig)


def test_non_finite_equity_halts_rather_than_passing():
    check = DrawdownCheck(DrawdownConfig(max_pct=10))
    context = account(90_000.0)
    context._net = float("nan")
    bar(check, context)
    assert context.trading_state is TradingState.HALTED
    assert "drawdown cannot be measured" in context.risk_state.trading_state_reason


async def test_a_new_peak_is_persisted_when_it_is_reached_not_only_at_shutdown():
    from ml4t_live_core.journaling import Recorder
    from ml4t_live_core.memory_store import MemoryStateStore

    store = MemoryStateStore()
    context = risk_context(cash=100_000.0)
    context.store = store
    context.recorder = Recorder(store, shadow=False, on_failure=context._persistence_failed)
    context._roll_day_and_marks(START)
    context.ledger.cash = 120_000.0
    context._roll_day_and_marks(START)
    await context.recorder.close()  # drain the queue; no stop(): as if the process died now
    assert (await store.load_state()).high_water_mark == 120_000.0


def test_non_finite_equity_never_becomes_the_persisted_peak():
    context = account(90_000.0)
    context._net = float("nan")
    context._roll_day_and_marks(START)
    assert context.risk_state.high_water_mark == PEAK
    assert RiskState.from_dict(context.risk_state.to_dict()).high_water_mark == PEAK


@given(
    peak=st.floats(1.0, 1e9),
    fall_pct=st.floats(-50.0, 99.0),
    limit=st.floats(0.1, 99.0),
)
def test_halts_exactly_when_the_fall_exceeds_the_limit(peak, fall_pct, limit):
    check = DrawdownCheck(DrawdownConfig(max_pct=limit))
    context = account(peak * (1 - fall_pct / 100), peak=peak)
    bar(check, context)
    fall = (peak - context.equity()) / peak * 100
    if fall > limit + 1e-6:
        assert context.trading_state is TradingState.HALTED
    elif fall < limit - 1e-6:
        assert context.trading_state is TradingState.ACTIVE
