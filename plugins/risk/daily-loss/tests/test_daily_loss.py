"""daily-loss: a loss beyond the limit against persisted start-of-day equity halts trading."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from ml4t.backtest import OrderSide
from ml4t_live_risk_daily_loss.check import STATE_KEY, DailyLossCheck, DailyLossConfig
from ml4t_live_testing.risk import assert_registered_check, order_request, risk_context
from pydantic import ValidationError

from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import RiskState

MORNING = datetime(2024, 1, 2, 14, 31, tzinfo=UTC)  # 09:31 in New York
EVENING = datetime(2024, 1, 3, 3, 0, tzinfo=UTC)  # 22:00 in New York, still 2 January there
NEXT_DAY = datetime(2024, 1, 3, 14, 31, tzinfo=UTC)


def day_started(start_equity: float = 100_000.0, *, at: datetime = MORNING):
    """A context whose core rolled the trading day at `start_equity`."""
    context = risk_context(cash=start_equity, now=at, prices={"A": 100.0})
    context._roll_day_and_marks(at)
    return context


def bar(check, context, at: datetime | None = None):
    at = at or context.now
    context.clock.set(at)
    context._roll_day_and_marks(at)  # the core's day roll, which runs before the bar hooks
    check.ml4t_live_on_bar(timestamp=at, data={"A": {"close": 100.0}}, context=context)


def test_currency_loss_just_inside_passes_and_just_outside_halts():
    check = DailyLossCheck(DailyLossConfig(max_loss=1_000))
    context = day_started()
    context.ledger.cash = 99_000.0
    bar(check, context)
    assert context.trading_state is TradingState.ACTIVE
    assert (
        check.ml4t_live_check_order(order=order_request(context, "A", 1), context=context) is None
    )
    context.ledger.cash = 98_999.99
    bar(check, context)
    assert context.trading_state is TradingState.HALTED
    reason = (
        "loss 1,000.01 on 2024-01-02 exceeds max 1,000.00 "
        "(equity 98,999.99, start-of-day equity 100,000.00)"
    )
    assert context.risk_state.trading_state_reason == f"daily-loss: {reason}"
    rejection = check.ml4t_live_check_order(order=order_request(context, "A", 1), context=context)
    assert rejection.check == "daily-loss" and rejection.reason == reason


def test_halt_still_lets_a_close_out():
    check = DailyLossCheck(DailyLossConfig(max_loss=500))
    context = risk_context(cash=100_000.0, positions={"A": 10}, prices={"A": 100.0}, now=MORNING)
    context._roll_day_and_marks(MORNING)
    context.ledger.cash -= 600
    sell = order_request(context, "A", 5, OrderSide.SELL)
    close = order_request(context, "A", 10, OrderSide.SELL, is_close=True)
    assert check.ml4t_live_check_order(order=sell, context=context).check == "daily-loss"
    assert check.ml4t_live_check_order(order=close, context=context) is None


def test_percent_loss_just_inside_passes_and_just_outside_is_rejected():
    check = DailyLossCheck(DailyLossConfig(max_pct=2))
    context = day_started()
    context.ledger.cash = 98_000.0
    assert (
        check.ml4t_live_check_order(order=order_request(context, "A", 1), context=context) is None
    )
    context.ledger.cash = 97_999.0
    rejection = check.ml4t_live_check_order(order=order_request(context, "A", 1), context=context)
    assert rejection.reason.startswith("loss 2.00% on 2024-01-02 exceeds max 2.00%")


def test_reduce_action_lets_reducing_orders_through():
    check = DailyLossCheck(DailyLossConfig(max_loss=500, action="reduce"))
    context = risk_context(cash=100_000.0, positions={"A": 10}, prices={"A": 100.0}, now=MORNING)
    context._roll_day_and_marks(MORNING)
    context.ledger.cash -= 600
    bar(check, context)
    assert context.trading_state is TradingState.REDUCING
    assert (
        check.ml4t_live_check_order(
            order=order_request(context, "A", 10, OrderSide.SELL), context=context
        )
        is None
    )
    assert (
        check.ml4t_live_check_order(order=order_request(context, "A", 1), context=context).check
        == "daily-loss"
    )


def test_start_of_day_equity_survives_a_restart_during_the_day():
    check = DailyLossCheck(DailyLossConfig(max_loss=1_000))
    first = day_started(100_000.0)
    persisted = RiskState.from_dict(first.risk_state.to_dict())  # what the state store keeps
    # The process dies; a new one starts later the same (New York) day with less equity.
    second = risk_context(cash=98_500.0, now=EVENING, prices={"A": 100.0})
    second.risk_state = persisted
    bar(check, second, EVENING)
    assert second.risk_state.start_of_day_equity == 100_000.0
    assert second.risk_state.trading_day == date(2024, 1, 2)
    assert second.trading_state is TradingState.HALTED


def test_next_exchange_day_takes_a_new_start_but_the_halt_stays_until_resumed():
    check = DailyLossCheck(DailyLossConfig(max_loss=1_000))
    context = day_started()
    context.ledger.cash = 98_000.0
    bar(check, context)
    assert context.trading_state is TradingState.HALTED
    bar(check, context, NEXT_DAY)
    assert context.risk_state.trading_day == date(2024, 1, 3)
    assert context.risk_state.start_of_day_equity == 98_000.0
    assert STATE_KEY not in context.risk_state.extra
    assert context.trading_state is TradingState.HALTED  # a halt persists until a person resets it
    assert (
        check.ml4t_live_check_order(order=order_request(context, "A", 1), context=context) is None
    )


def test_trading_day_is_the_calendar_day_in_the_configured_timezone():
    tokyo = risk_context(cash=1.0, now=MORNING, runtime=RuntimeConfig(timezone="Asia/Tokyo"))
    tokyo._roll_day_and_marks(EVENING)  # 12:00 on 3 January in Tokyo
    assert tokyo.risk_state.trading_day == date(2024, 1, 3)
    new_york = day_started()
    new_york._roll_day_and_marks(EVENING)
    assert new_york.risk_state.trading_day == date(2024, 1, 2)


def test_a_resume_by_hand_is_not_undone_the_same_day():
    check = DailyLossCheck(DailyLossConfig(max_loss=1_000))
    context = day_started()
    context.ledger.cash = 98_000.0
    bar(check, context)
    context.set_trading_state(TradingState.ACTIVE, "manual resume")
    bar(check, context)
    assert context.trading_state is TradingState.ACTIVE
    assert (
        check.ml4t_live_check_order(order=order_request(context, "A", 1), context=context) is None
    )
    context.ledger.cash = 96_999.0
    bar(check, context)
    assert context.trading_state is TradingState.HALTED
    assert "equity at resumption 98,000.00" in context.risk_state.trading_state_reason


def test_off_unless_a_limit_is_set():
    check = DailyLossCheck(DailyLossConfig())
    context = day_started()
    context.ledger.cash = 1.0
    bar(check, context)
    assert context.trading_state is TradingState.ACTIVE


@pytest.mark.parametrize(
    "bad",
    [
        {"max_loss": 0},
        {"max_loss": -5},
        {"max_pct": 100},
        {"max_pct": float("inf")},
        {"action": "stop"},
        {"loss": 1},
    ],
)
def test_bad_config_is_refused(bad):
    with pytest.raises(ValidationError):
        DailyLossConfig.model_validate(bad)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("daily-loss")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("daily-loss", DailyLossCheck, DailyLossConfig)


def test_non_finite_equity_halts_rather_than_passing():
    check = DailyLossCheck(DailyLossConfig(max_loss=1_000))
    context = day_started()
    context._net = float("inf")
    bar(check, context)
    assert context.trading_state is TradingState.HALTED
    assert "loss cannot be measured" in context.risk_state.trading_state_reason


def test_non_finite_equity_never_becomes_the_start_of_day():
    context = risk_context(cash=100_000.0, now=MORNING)
    context._net = float("nan")
    context._roll_day_and_marks(MORNING)
    assert context.risk_state.start_of_day_equity is None and context.risk_state.trading_day is None
    context._net = 0.0
    context._roll_day_and_marks(MORNING)
    assert context.risk_state.start_of_day_equity == 100_000.0
