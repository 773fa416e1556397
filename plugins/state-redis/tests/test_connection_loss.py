"""A lost or hung Redis fails the write in bounded time; the order path then rejects and halts."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime

import pytest
from ml4t_live_state_redis import RedisStateConfig, RedisStateStore, RedisStateUnavailableError
from ml4t_live_testing.redis_server import RedisServer

from ml4t_live_core.journaling import Recorder
from ml4t_live_core.state import JournalEvent, JournalRecord

NOW = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
RECORD = JournalRecord(NOW, JournalEvent.SUBMITTED, client_order_id="p-00000001", asset="AAPL")


def _store(server: RedisServer, timeout: float = 0.5) -> RedisStateStore:
    return RedisStateStore(RedisStateConfig.model_validate(
        {"url": server.url, "timeout": timeout, "connect_timeout": timeout}))


async def test_append_fails_when_the_server_is_gone(own_server: RedisServer) -> None:
    store = _store(own_server)
    await store.open()
    try:
        await store.append_journal(RECORD)
        assert await store.read_trading_state() is None
        own_server.kill()
        with pytest.raises(
            RedisStateUnavailableError, match="could not append to the journal"
        ) as caught:
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
    own_server.kill()
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
        own_server.kill()
        with pytest.raises(RedisStateUnavailableError):
            await recorder.write(RECORD)
        assert len(failures) == 1 and isinstance(failures[0], RedisStateUnavailableError)
    finally:
        await recorder.close()
        await store.close()


class Monotonic:
    """A hand-driven monotonic clock for the follower's silence limit."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_silent_subscription_is_not_trusted(own_server: RedisServer) -> None:
    clock = Monotonic()
    store = RedisStateStore(
        RedisStateConfig.model_validate(
            {"url": own_server.url, "timeout": 0.3, "connect_timeout": 0.3}
        ),
        monotonic=clock,
    )
    await store.open()
    assert own_server.process is not None
    try:
        assert await store.read_trading_state() is None
        clock.now += 1.0  # within the limit: the local copy answers, no round trip
        assert await store.read_trading_state() is None
        # A frozen server (or a half-open link) says nothing: past the limit the follower
        # re-subscribes and re-reads, and that fails instead of serving a stale copy.
        os.kill(own_server.process.pid, signal.SIGSTOP)
        clock.now += 60.0
        with pytest.raises(RedisStateUnavailableError, match="could not subscribe"):
            await store.read_trading_state()
    finally:
        os.kill(own_server.process.pid, signal.SIGCONT)
        await store.close()
