"""Injectable clocks: wall time in production, manual or bar-driven time in tests and replay."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    """Source of the current time (timezone-aware) for checks, staleness and flushing."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; tests use it so nothing sleeps for real."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock.set needs a timezone-aware time")
        self._now = when

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


class MarketClock(ManualClock):
    """Replay time: the engine moves it to each bar's timestamp, so replays are not 'stale'."""


def trading_day(ts: datetime, tz: tzinfo, starts: time = time()) -> date:
    """The trading day `ts` belongs to: its calendar day in `tz`, or, with `starts` in the
    afternoon or evening (17:00 for CME Globex or FX), the next day from that local time on."""
    local = ts.astimezone(tz)
    if starts != time() and local.time() >= starts:
        return local.date() + timedelta(days=1)
    return local.date()

