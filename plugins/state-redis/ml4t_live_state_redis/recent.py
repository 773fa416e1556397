"""The account's recent order times from the journal stream, read incrementally.

A rate limit shared by every process on an account asks before each order; reading the whole
window each time would cost one entry per journal record in it, so only the entries added
since the last call are read (one XRANGE, usually a handful of entries).
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from ml4t_live_core.state import JournalEvent, JournalRecord

_PAGE = 500

Guard = Callable[[str, Awaitable[Any]], Awaitable[Any]]
Parse = Callable[[bytes, dict[bytes, bytes]], JournalRecord]


class RecentSubmissions:
    """Sorted times of live SUBMITTED records at or after the earliest `since` asked for."""

    def __init__(self, journal_key: str) -> None:
        self.key = journal_key
        self._times: list[datetime] = []
        self._cursor: bytes | None = None  # the newest stream id already read
        self._horizon: datetime | None = None  # nothing older than this is kept

    async def read(
        self, client: Any, guard: Guard, parse: Parse, since: datetime
    ) -> list[datetime]:
        if self._cursor is None or self._horizon is None or since < self._horizon:
            await self._walk_back(client, guard, parse, since)
        else:
            await self._read_new(client, guard, parse)
        self._horizon = since
        del self._times[: bisect.bisect_left(self._times, since)]
        return list(self._times)

    async def _walk_back(self, client: Any, guard: Guard, parse: Parse, since: datetime) -> None:
        """First read: from the newest entry back to the first record older than `since`."""
        times: list[datetime] = []
        newest: bytes | None = None
        end = "+"
        while True:
            page = await guard("read the journal", client.xrevrange(self.key, max=end, count=_PAGE))
            if newest is None:
                newest = page[0][0] if page else b"0-0"
            for entry_id, fields in page:
                record = parse(entry_id, fields)
                if record.timestamp < since:
                    page = []  # older than the window: stop here
                    break
                if _counts(record):
                    times.append(record.timestamp)
            if len(page) < _PAGE:
                break
            end = "(" + page[-1][0].decode()
        self._times = sorted(times)
        self._cursor = newest

    async def _read_new(self, client: Any, guard: Guard, parse: Parse) -> None:
        while True:
            assert self._cursor is not None
            page = await guard("read the journal", client.xrange(
                self.key, min="(" + self._cursor.decode(), max="+", count=_PAGE
            ))
            for entry_id, fields in page:
                record = parse(entry_id, fields)
                if _counts(record):
                    bisect.insort(self._times, record.timestamp)
            if page:
                self._cursor = page[-1][0]
            if len(page) < _PAGE:
                return


def _counts(record: JournalRecord) -> bool:
    return record.event is JournalEvent.SUBMITTED and not record.shadow
