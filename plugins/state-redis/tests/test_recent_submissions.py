"""recent_submissions: the account's live order times in a window, read incrementally."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from ml4t_live_state_redis import RedisStateStore

from ml4t_live_core.protocols import SharedOrderLog
from ml4t_live_core.state import JournalEvent, JournalRecord

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
EVENTS = [JournalEvent.SUBMITTED, JournalEvent.ACKNOWLEDGED, JournalEvent.FILLED,
          JournalEvent.REJECTED, JournalEvent.MARK]


def record(seconds: float, event: JournalEvent, shadow: bool = False) -> JournalRecord:
    return JournalRecord(timestamp=T0 + timedelta(seconds=seconds), event=event, shadow=shadow,
                         client_order_id="s-00000001", asset="AAA")


def expected(records: list[JournalRecord], since: datetime) -> list[datetime]:
    return sorted(r.timestamp for r in records if r.event is JournalEvent.SUBMITTED
                  and not r.shadow and r.timestamp >= since)


async def test_counts_live_submissions_across_pages_and_then_only_new_entries(
    store: RedisStateStore,
) -> None:
    assert isinstance(store, SharedOrderLog)
    rng = random.Random(4)
    written: list[JournalRecord] = []
    for i in range(1_300):  # more than two pages of the first walk back
        written.append(record(i * 0.5, rng.choice(EVENTS), shadow=rng.random() < 0.1))
        await store.append_journal(written[-1])

    other = RedisStateStore(store.config)  # a second process on the account
    await other.open()
    try:
        since = T0 + timedelta(seconds=100)
        assert await other.recent_submissions(since) == expected(written, since)
        for i in range(1_300, 1_900):
            written.append(record(i * 0.5, rng.choice(EVENTS)))
            await store.append_journal(written[-1])
        since = T0 + timedelta(seconds=400)
        assert await other.recent_submissions(since) == expected(written, since)
        # A wider window than read before is walked back again, not answered from the cache.
        since = T0 + timedelta(seconds=50)
        assert await other.recent_submissions(since) == expected(written, since)
    finally:
        await other.close()


async def test_an_empty_journal_has_no_orders_then_sees_the_first(store: RedisStateStore) -> None:
    assert await store.recent_submissions(T0) == []
    await store.append_journal(record(1, JournalEvent.SUBMITTED))
    assert await store.recent_submissions(T0) == [T0 + timedelta(seconds=1)]
