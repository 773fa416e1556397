"""Exchange trading sessions (pandas-market-calendars): is a tick in session, when does it close."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


class UnknownCalendarError(ValueError):
    """The configured exchange calendar does not exist."""


def load_calendar(name: str) -> Any:
    """The pandas-market-calendars calendar `name`, or an error listing how to find valid names."""
    import pandas_market_calendars as mcal

    try:
        return mcal.get_calendar(name)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise UnknownCalendarError(
            f"unknown exchange calendar {name!r} ({exc}); valid names: "
            "pandas_market_calendars.get_calendar_names(), e.g. 'XNYS', 'XLON', 'CME_Equity'"
        ) from None


class Sessions:
    """Session opens and closes of one exchange, loaded a year at a time and looked up by bisection.

    Breaks inside a session (e.g. lunch breaks) are not modelled: a session is open..close.
    """

    def __init__(self, name: str):
        self.name = name
        self._calendar = load_calendar(name)
        self._years: set[int] = set()
        self._opens: list[datetime] = []
        self._closes: list[datetime] = []
        self._opens_ns = np.empty(0, dtype=np.int64)
        self._closes_ns = np.empty(0, dtype=np.int64)

    def _ensure(self, year: int) -> None:
        missing = [y for y in (year - 1, year, year + 1) if y not in self._years]
        if not missing:
            return
        for y in missing:
            schedule = self._calendar.schedule(f"{y}-01-01", f"{y}-12-31")
            for open_, close in zip(schedule["market_open"], schedule["market_close"], strict=True):
                self._opens.append(open_.to_pydatetime().astimezone(UTC))
                self._closes.append(close.to_pydatetime().astimezone(UTC))
            self._years.add(y)
        pairs = sorted(set(zip(self._opens, self._closes, strict=True)))
        self._opens = [p[0] for p in pairs]
        self._closes = [p[1] for p in pairs]
        self._opens_ns = np.array([_ns(t) for t in self._opens], dtype=np.int64)
        self._closes_ns = np.array([_ns(t) for t in self._closes], dtype=np.int64)

    def session_at(self, ts: datetime) -> tuple[datetime, datetime] | None:
        """(open, close) of the session containing `ts` (open <= ts < close), else None."""
        self._ensure(ts.year)
        i = bisect.bisect_right(self._opens, ts) - 1
        if i >= 0 and ts < self._closes[i]:
            return self._opens[i], self._closes[i]
        return None

    def sessions_ns(self, ts_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vectorised `session_at` for UTC epoch nanoseconds: (inside mask, open_ns, close_ns)."""
        if ts_ns.size == 0:
            empty = np.empty(0, dtype=np.int64)
            return np.empty(0, dtype=bool), empty, empty
        for year in {_year(int(ts_ns.min())), _year(int(ts_ns.max()))}:
            self._ensure(year)
        idx = np.searchsorted(self._opens_ns, ts_ns, side="right") - 1
        safe = np.clip(idx, 0, None)
        opens, closes = self._opens_ns[safe], self._closes_ns[safe]
        return (idx >= 0) & (ts_ns < closes), opens, closes


def _ns(ts: datetime) -> int:
    return (ts - _EPOCH) // _MICRO * 1_000


def _year(ns: int) -> int:
    return datetime.fromtimestamp(ns / 1e9, UTC).year
