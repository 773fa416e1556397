"""recent_submissions: the live order times in a window, from every process on the file."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ml4t_live_state_sqlite import SqliteStateConfig, SqliteStateStore

from ml4t_live_core.protocols import SharedOrderLog
from ml4t_live_core.state import JournalEvent, JournalRecord

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
EVENTS = [JournalEvent.SUBMITTED, JournalEvent.ACKNOWLEDGED, JournalEvent.FILLED,
          JournalEvent.REJECTED, JournalEvent.MARK]


def expected(records: list[JournalRecord], since: datetime) -> list[datetime]:
    return sorted(r.timestamp for r in records if r.event is JournalEvent.SUBMITTED
                  and not r.shadow and r.timestamp >= since)


async def test_window_then_only_new_rows_from_another_connection(tmp_path: Path) -> None:
    config = SqliteStateConfig(path=tmp_path / "state.db")
    writer, reader = SqliteStateStore(config), SqliteStateStore(config)
    await writer.open()
    await reader.open()
    assert isinstance(reader, SharedOrderLog)
    rng = random.Random(2)
    written: list[JournalRecord] = []

    async def write(count: int) -> None:
        for _ in range(count):
            seconds = len(written) * 0.5
            written.append(JournalRecord(
                timestamp=T0 + timedelta(seconds=seconds), event=rng.choice(EVENTS),
                shadow=rng.random() < 0.1, client_order_id="s-00000001", asset="AAA"))
            await writer.append_journal(written[-1])

    try:
        assert await reader.recent_submissions(T0) == []
        await write(300)
        for since_s, more in ((40, 100), (90, 0), (20, 50)):  # the last one widens the window
            since = T0 + timedelta(seconds=since_s)
            assert await reader.recent_submissions(since) == expected(written, since)
            await write(more)
    finally:
        await writer.close()
        await reader.close()
