"""A lost or hung Redis fails the write in bounded time; the order path then rejects and halts."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ml4t.backtest import OrderStatus, Strategy

from ml4t_live_core.compose import build
from ml4t_live_core.journaling import Recorder
from ml4t_live_core.plugins import LOAD_ENV_VAR
from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import JournalEvent, JournalRecord
from ml4t_live_sim import ReplayFeed, SyntheticConfig
from ml4t_live_sim.feeds import synthetic_bars
from ml4t_live_state_redis import RedisStateConfig, RedisStateStore, RedisStateUnavailableError
from ml4t_live_testing.redis_server import RedisServer, find_executable, running_redis_server

NOW = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
RECORD = JournalRecord(NOW, JournalEvent.SUBMITTED, client_order_id="p-00000001", asset="AAPL")


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server this test may stop or freeze (the session one is shared)."""
    if find_executable() is None:
        pytest.skip("redis-server is not installed")
    with running_redis_server(tmp_path / "redis") as server:
        yield server


def _store(server: RedisServer, timeout: float = 0.5) -> RedisStateStore:
    return RedisStateStore(RedisStateConfig.model_validate(
        {"url": server.url, "timeout": timeout, "connect_timeout": timeout}))


def _kill(server: RedisServer) -> None:
    assert server.process is not None
    server.process.kill()
    server.process.wait(timeout=10)


async def test_append_fails_when_the_server_is_gone(own_server: RedisServer) -> None:
    store = _store(own_server)
    await store.open()
    try:
        await store.append_journal(RECORD)
        assert await store.read_trading_state() is None
        _kill(own_server)
        with pytest.raises(RedisStateUnavailableError, match="could not append to the journal") as caught:
            await store.append_journal(RECORD)
        assert store.location in str(caught.value)
        with pytest.raises(RedisStateUnavailableError):
            await store.save_state(await _any_state())
        # The subscription saw the link drop: the trading state is re-read, and that fails.
        with pytest.raises(RedisStateUnavailableError, match="could not subscribe"):
            await store.read_trading_state()
    finally:
        await store.close()


async def _any_state():
    from ml4t_live_core.state import RiskState

    return RiskState()


async def test_a_hung_server_times_out_instead_of_blocking(own_server: RedisServer) -> None:
    store = _store(own_server, timeout=0.3)
    await store.open()
    assert own_server.process is not None
    os.kill(own_server.process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(RedisStateUnavailableError, match="could not append"):
            await store.append_journal(RECORD)
        with pytest.raises(RedisStateUnavailableError, match="could not save"):
            await store.save_state(await _any_state())
    finally:
        os.kill(own_server.process.pid, signal.SIGCONT)
        await store.close()


async def test_open_fails_clearly_when_nothing_listens(own_server: RedisServer) -> None:
    store = _store(own_server)
    _kill(own_server)
    with pytest.raises(RedisStateUnavailableError, match="could not connect"):
        await store.open()


async def test_recorder_fails_the_order_write_and_reports_it(own_server: RedisServer) -> None:
    store = _store(own_server)
    await store.open()
    failures: list[Exception] = []
    recorder = Recorder(store, shadow=False, on_failure=failures.append)
    recorder.start()
    try:
        await recorder.write(RECORD)
        _kill(own_server)
        with pytest.raises(RedisStateUnavailableError):
            await recorder.write(RECORD)
        assert len(failures) == 1 and isinstance(failures[0], RedisStateUnavailableError)
    finally:
        await recorder.close()
        await store.close()


class StopRedisAtBar(Strategy):
    def __init__(self, server: RedisServer, at: int):
        self.server, self.at, self.bar = server, at, 0
        self.statuses: list[tuple[int, OrderStatus]] = []
        self.reasons: dict[int, str] = {}

    def on_data(self, timestamp, data, context, broker):
        self.bar += 1
        if self.bar == self.at:
            _kill(self.server)
        order = broker.submit_order(sorted(data)[0], 1)
        self.statuses.append((self.bar, order.status))
        self.reasons[self.bar] = order.rejection_reason or ""


async def test_engine_rejects_the_order_and_halts_when_redis_is_lost(
    own_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,state-redis")
    strategy = StopRedisAtBar(own_server, at=3)
    runtime = build(
        strategy, None, feed=ReplayFeed(data=synthetic_bars(SyntheticConfig(assets=1, bars=6, seed=4))),
        overrides={"runtime": {"strategy_id": "lost"},
                   "state": {"use": "redis", "redis": {"url": own_server.url, "timeout": 0.5, "connect_timeout": 0.5}}},
    )
    try:
        await runtime.engine.run(install_signal_handlers=False)
    except RedisStateUnavailableError:
        pass  # the run may also stop on the next bar's trading-state read: either way it fails closed
    assert all(status is not OrderStatus.REJECTED for bar, status in strategy.statuses if bar < 3)
    assert all(status is OrderStatus.REJECTED for bar, status in strategy.statuses if bar >= 3)
    # Whichever Redis call the order path makes first (trading-state read or journal append)
    # fails, and the order is not sent.
    assert "redis state at redis://127.0.0.1" in strategy.reasons[3]
    assert runtime.safe.trading_state is TradingState.HALTED
    assert runtime.broker is not None and runtime.safe.stats.orders_submitted == 2
