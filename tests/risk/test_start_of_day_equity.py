"""Start-of-day equity is taken once per exchange day (in `runtime.timezone`), persisted by the
real JSON store, and kept by a process restarted later that day with a different equity."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from ml4t.backtest import Strategy
from ml4t_live_sim import SimBroker, SyntheticConfig
from ml4t_live_sim.config import SimBrokerConfig
from ml4t_live_sim.feeds import synthetic_bars

from ml4t_live_core.risk import TradingState

json_store = pytest.importorskip("ml4t_live_state_json.store")
ONLY = "sim,daily-loss"


class Idle(Strategy):
    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        pass


def _bars(start: str, bars: int = 5):
    config = SyntheticConfig(assets=2, bars=bars, seed=1, start=datetime.fromisoformat(start))
    return synthetic_bars(config)


async def _run(make_runtime, directory: Path, cash: float, start: str, **runtime_config):  # type: ignore[no-untyped-def]
    store = json_store.JsonStateStore(json_store.JsonStateConfig(directory=directory))
    broker = SimBroker(SimBrokerConfig(initial_cash=cash))
    overrides = {"risk": {"daily-loss": {"max_loss": 1_000.0}}, "runtime": runtime_config}
    runtime = make_runtime(Idle(), data=_bars(start), store=store, broker=broker, only=ONLY,
                           overrides=overrides)
    await runtime.engine.run(install_signal_handlers=False)
    return runtime.safe


async def test_start_of_day_equity_survives_a_restart_and_rolls_on_the_exchange_day(
    make_runtime, tmp_path: Path
):
    # 15:00 UTC on 2 January = 10:00 in New York: the day starts at 100,000.
    first = await _run(make_runtime, tmp_path, 100_000.0, "2024-01-02T15:00:00+00:00")
    assert first.risk_state.trading_day == date(2024, 1, 2)
    assert first.risk_state.start_of_day_equity == 100_000.0

    # Restarted at 03:00 UTC on 3 January, still 22:00 on 2 January in New York, with 2,000
    # less: the day's start stands and the loss trips the limit.
    second = await _run(make_runtime, tmp_path, 98_000.0, "2024-01-03T03:00:00+00:00")
    assert second.risk_state.trading_day == date(2024, 1, 2)
    assert second.risk_state.start_of_day_equity == 100_000.0
    assert second.trading_state is TradingState.HALTED
    assert "daily-loss: loss 2,000.00 on 2024-01-02" in second.risk_state.trading_state_reason

    # The next New York day takes a new start (the halt itself waits for a person).
    third = await _run(make_runtime, tmp_path, 98_000.0, "2024-01-03T15:00:00+00:00")
    assert third.risk_state.trading_day == date(2024, 1, 3)
    assert third.risk_state.start_of_day_equity == 98_000.0
    assert third.trading_state is TradingState.HALTED


async def test_a_trading_day_that_starts_the_evening_before_rolls_then(
    make_runtime, tmp_path: Path
):
    globex = {"timezone": "America/Chicago", "trading_day_starts": "17:00"}
    # 22:30 UTC on 2 January = 16:30 in Chicago: still the session of 2 January.
    first = await _run(make_runtime, tmp_path, 100_000.0, "2024-01-02T22:30:00+00:00", **globex)
    assert first.risk_state.trading_day == date(2024, 1, 2)
    # 23:30 UTC = 17:30 in Chicago, the same calendar day: the session of 3 January has begun,
    # with its own start; the 2,000 less is not a loss of this day.
    second = await _run(make_runtime, tmp_path, 98_000.0, "2024-01-02T23:30:00+00:00", **globex)
    assert second.risk_state.trading_day == date(2024, 1, 3)
    assert second.risk_state.start_of_day_equity == 98_000.0
    assert second.trading_state is TradingState.ACTIVE
