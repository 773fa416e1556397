"""LiveEngine: lifecycle, a non-blocked event loop, error policy and the busy-bar policy."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from ml4t.backtest import Strategy

from ml4t_live_core.engine import StrategyError
from ml4t_live_core.risk import TradingState


class Recorder(Strategy):
    def __init__(self, sleep: float = 0.0, fail_at: int | None = None) -> None:
        self.calls: list[str] = []
        self.threads: set[int] = set()
        self.sleep = sleep
        self.fail_at = fail_at
        self.bars = 0

    def on_start(self, broker):  # type: ignore[no-untyped-def]
        self.calls.append("start")
        self.threads.add(threading.get_ident())

    def on_prepare(self, broker, config=None):  # type: ignore[no-untyped-def]
        self.calls.append("prepare")

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.bars += 1
        self.threads.add(threading.get_ident())
        if self.sleep:
            time.sleep(self.sleep)  # blocking on purpose: it must not block the event loop
        if self.fail_at == self.bars:
            raise RuntimeError("boom")

    def on_end(self, broker):  # type: ignore[no-untyped-def]
        self.calls.append("end")


async def test_lifecycle_order_and_one_strategy_thread(make_runtime, bars):
    strategy = Recorder()
    runtime = make_runtime(strategy)
    stats = await runtime.engine.run(install_signal_handlers=False)
    assert strategy.calls == ["start", "prepare", "end"]
    assert strategy.bars == stats.bars == bars["timestamp"].n_unique()
    assert len(strategy.threads) == 1 and threading.get_ident() not in strategy.threads


async def test_slow_on_data_does_not_block_the_event_loop(make_runtime, bars):
    strategy = Recorder(sleep=0.05)
    runtime = make_runtime(strategy, data=bars.head(3 * 4))  # 4 bars x 3 assets
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    await runtime.engine.run(install_signal_handlers=False)
    task.cancel()
    # 4 bars x 50 ms of blocking strategy work: a blocked loop would tick about once.
    assert strategy.bars == 4
    assert ticks >= 20


async def test_error_policy_continue_counts_and_carries_on(make_runtime):
    strategy = Recorder(fail_at=3)
    runtime = make_runtime(strategy, overrides={"runtime": {"on_error": "continue"}})
    stats = await runtime.engine.run(install_signal_handlers=False)
    assert stats.errors == 1 and stats.bars == 60
    assert runtime.safe.trading_state is TradingState.ACTIVE


async def test_error_policy_halt_stops_halts_and_still_calls_on_end(make_runtime):
    strategy = Recorder(fail_at=3)
    runtime = make_runtime(strategy, overrides={"runtime": {"on_error": "halt"}})
    with pytest.raises(StrategyError, match="boom"):
        await runtime.engine.run(install_signal_handlers=False)
    assert strategy.bars == 3 and strategy.calls[-1] == "end"
    assert runtime.safe.trading_state is TradingState.HALTED
    assert "boom" in runtime.safe.risk_state.trading_state_reason


class SlowFeed:
    """A realtime-like feed that produces bars faster than the strategy handles them."""

    realtime = False

    def __init__(self, events):  # type: ignore[no-untyped-def]
        self.events = events

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def __aiter__(self):  # type: ignore[no-untyped-def]
        return self._gen()

    async def _gen(self):  # type: ignore[no-untyped-def]
        for event in self.events:
            yield event
            await asyncio.sleep(0.01)


async def test_busy_policy_latest_skips_and_counts_waiting_bars(make_runtime, bars):
    from ml4t_live_sim.feeds import frame_to_events

    events = frame_to_events(bars.head(3 * 20))
    strategy = Recorder(sleep=0.05)
    latest = {"runtime": {"busy_policy": "latest"}}
    runtime = make_runtime(strategy, feed=SlowFeed(events), overrides=latest)
    stats = await runtime.engine.run(install_signal_handlers=False)
    assert stats.bars_skipped > 0
    assert stats.bars + stats.bars_skipped == 20
    assert strategy.bars == stats.bars


async def test_busy_policy_block_sees_every_bar(make_runtime, bars):
    from ml4t_live_sim.feeds import frame_to_events

    events = frame_to_events(bars.head(3 * 10))
    strategy = Recorder(sleep=0.02)
    runtime = make_runtime(strategy, feed=SlowFeed(events))
    stats = await runtime.engine.run(install_signal_handlers=False)
    assert stats.bars == strategy.bars == 10 and stats.bars_skipped == 0


class Preparer(Strategy):
    def __init__(self) -> None:
        self.config = None

    def on_prepare(self, broker, config=None):  # type: ignore[no-untyped-def]
        self.config = config

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        pass


class FeedWithHistory(SlowFeed):
    async def history(self, bars):  # type: ignore[no-untyped-def]
        return self.events[:bars]


async def test_on_prepare_receives_warmup_history(make_runtime, bars):
    from ml4t_live_sim.feeds import frame_to_events

    events = frame_to_events(bars.head(3 * 5))
    strategy = Preparer()
    runtime = make_runtime(
        strategy, feed=FeedWithHistory(events), overrides={"runtime": {"warmup_bars": 3}}
    )
    await runtime.engine.run(install_signal_handlers=False)
    assert strategy.config.live is True
    assert [ts for ts, _, _ in strategy.config.history] == [e[0] for e in events[:3]]
