"""Group commit in the recorder, on the real JSON store: queued records share one fdatasync, and
a waiter is told its record is durable only once the fdatasync covering it has returned."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ml4t_live_core.journaling import Recorder
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState

from .conftest import durable_store

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
REAL_FDATASYNC = os.fdatasync


def record(seq: int, event: JournalEvent = JournalEvent.ACKNOWLEDGED) -> JournalRecord:
    return JournalRecord(T0, event, client_order_id=f"s.a-{seq:08d}", asset="AAPL", side="buy",
                         quantity=5.0)


@pytest_asyncio.fixture
async def store(state_dir: Path) -> AsyncIterator[Any]:
    store = durable_store("json", state_dir)
    await store.open()
    yield store
    await store.close()


def lines(store: Any) -> list[bytes]:
    return store.journal_path.read_bytes().splitlines()


def fdatasync_spy(
    store: Any, monkeypatch: pytest.MonkeyPatch, then: Callable[[int], None] = REAL_FDATASYNC
) -> list[int]:
    """Each fdatasync call, as the number of journal lines on disk when it was called."""
    seen: list[int] = []

    def spy(fd: int) -> None:
        seen.append(len(lines(store)))
        then(fd)

    monkeypatch.setattr(os, "fdatasync", spy)
    return seen


async def test_queued_records_cost_one_fdatasync_with_the_decision(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = fdatasync_spy(store, monkeypatch)
    # A long linger: records nobody waits for are written with the next decision, not by a timer.
    recorder = Recorder(store, shadow=True, on_failure=pytest.fail, linger=60.0)
    recorder.start()
    for seq in range(1, 5):
        recorder.write_later(record(seq))
    await asyncio.wait_for(recorder.write(record(5, JournalEvent.SUBMITTED)), 10)
    assert syncs == [5]  # one fdatasync, issued after all five records were written
    assert [r.client_order_id for r in await store.read_journal()] == [
        f"s.a-{seq:08d}" for seq in range(1, 6)
    ]
    assert recorder.commits == 1
    await recorder.close()


async def test_a_waiter_is_released_only_after_the_fdatasync_covering_its_record(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()

    def held(fd: int) -> None:
        entered.set()
        release.wait(10)
        REAL_FDATASYNC(fd)

    syncs = fdatasync_spy(store, monkeypatch, then=held)
    recorder = Recorder(store, shadow=True, on_failure=pytest.fail, linger=60.0)
    recorder.start()
    recorder.write_later(record(1))
    decision = asyncio.ensure_future(recorder.write(record(2, JournalEvent.SUBMITTED)))
    assert await asyncio.to_thread(entered.wait, 10)
    assert len(lines(store)) == 2  # written to the file, but not yet synced...
    for _ in range(100):
        await asyncio.sleep(0)
    assert not decision.done()  # ...so the order path still waits
    release.set()
    await asyncio.wait_for(decision, 10)
    assert syncs == [2]
    await recorder.close()


async def test_a_failed_fdatasync_fails_the_decision_and_is_reported_once(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    syncs = fdatasync_spy(store, monkeypatch, then=broken)
    failures: list[Exception] = []
    recorder = Recorder(store, shadow=True, on_failure=failures.append, linger=60.0)
    recorder.start()
    recorder.write_later(record(1))
    with pytest.raises(OSError, match="Input/output error"):
        await asyncio.wait_for(recorder.write(record(2, JournalEvent.SUBMITTED)), 10)
    assert syncs == [2]  # the one commit covered both records, and it failed
    assert [type(e) for e in failures] == [OSError]
    await recorder.close()


async def test_close_writes_lingering_records_in_one_commit(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = fdatasync_spy(store, monkeypatch)
    recorder = Recorder(store, shadow=True, on_failure=pytest.fail, linger=60.0)
    recorder.start()
    for seq in range(1, 4):
        recorder.write_later(record(seq))
    await asyncio.wait_for(recorder.close(), 10)  # no waiting out the linger
    assert syncs == [3]
    assert len(await store.read_journal()) == 3


async def test_queued_states_are_saved_once_newest_last_in_order(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = fdatasync_spy(store, monkeypatch)
    recorder = Recorder(store, shadow=True, on_failure=pytest.fail, linger=60.0)
    recorder.start()
    recorder.write_later(record(1))
    recorder.write_later(RiskState(orders_total=1))
    recorder.write_later(RiskState(orders_total=2))
    await asyncio.wait_for(recorder.write(record(2, JournalEvent.SUBMITTED)), 10)
    # journal record, then the newest state (one save), then the decision: order kept
    assert recorder.commits == 3 and syncs == [1, 2]
    loaded = await store.load_state()
    assert loaded is not None and loaded.orders_total == 2
    await recorder.close()


async def test_flush_on_an_empty_queue_leaves_later_records_their_linger_timer(tmp_path):
    """flush() with nothing queued must not leave the writer believing a flush is due: a record
    nobody waits for, queued afterwards, is still written within its linger time."""
    store = MemoryStateStore()
    recorder = Recorder(store, shadow=False, on_failure=lambda exc: None, linger=0.01)
    recorder.start()
    await asyncio.sleep(0.01)  # the writer is waiting for work
    await recorder.flush()
    await asyncio.sleep(0.01)  # ... and has seen the flush's wake-up on an empty queue
    recorder.write_later(JournalRecord(timestamp=datetime.now(UTC), event=JournalEvent.MARK))
    await asyncio.sleep(0.2)
    assert len(store.journal) == 1
    await recorder.close()
