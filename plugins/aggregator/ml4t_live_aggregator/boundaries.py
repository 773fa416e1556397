"""Where bars start and stop: local wall-clock multiples of the interval, right across DST.

Bar boundaries are the instants whose local wall-clock time is a multiple of the interval
since local midnight (a 5-minute bar starts at :00, :05 ... local); a bar runs from one to the
next. Where the UTC offset is constant that is one line of arithmetic. Across a shift it is
not, and the rule gives what a local reader expects:

- New York, spring forward (02:00 EST -> 03:00 EDT): the 4-hour bar 00:00-04:00 is one bar of
  3 hours, the day bar 23 hours; 15-minute and hourly bars are unaffected.
- New York, fall back (02:00 EDT -> 01:00 EST): the 4-hour bar 00:00-04:00 is one bar of 5
  hours; the repeated hour's hourly and 15-minute bars each happen twice, once per offset.
- Lord Howe (30-minute shift), spring (02:00 -> 02:30): local 02:00 never happens, so the
  hourly bar of 01:00 runs to 03:00, 90 minutes.

Hand-written because no library floors to local multiples across a shift: zoneinfo has no
transition list and polars' / pandas' `floor` in local time raise or guess on repeated and
missing wall times. It assumes at most one offset change within a bar's interval on either side
of a tick (true of every zone's current rules).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class Boundaries:
    """`bounds(ts)`: the [start, stop) in UTC of the bar holding `ts`; see the module docstring."""

    def __init__(self, interval_seconds: int, timezone: str):
        self._n = interval_seconds * 1_000_000  # microseconds
        self._tz = ZoneInfo(timezone)
        self.utc = timezone == "UTC"

    def offset(self, us: int) -> int:
        """The zone's UTC offset at `us` microseconds since the epoch, in microseconds."""
        local = (EPOCH + timedelta(microseconds=us)).astimezone(self._tz)
        return local.utcoffset() // MICROSECOND  # type: ignore[operator]

    def bounds(self, ts: datetime) -> tuple[datetime, datetime]:
        start, stop = self.bounds_us((ts - EPOCH) // MICROSECOND)
        return EPOCH + timedelta(microseconds=start), EPOCH + timedelta(microseconds=stop)

    def bounds_us(self, us: int, off: int | None = None) -> tuple[int, int]:
        """`bounds` in microseconds since the epoch (`off`: the offset at `us`, if known)."""
        n = self._n
        if self.utc:
            start = us // n * n
            return start, start + n
        if off is None:
            off = self.offset(us)
        key = (us + off) // n * n  # the local wall-clock floor, as microseconds
        start, stop = key - off, key - off + n  # the bar if the offset held throughout
        if self.offset(start) != off:
            # The offset changed at some t in (start, us]: no wall time in [t, us] is a multiple
            # of n, so the bar began at the last multiple under the offset before t.
            t = self._change(start, us)
            before = self.offset(t - 1)
            start = (t - 1 + before) // n * n - before
        if self.offset(stop) != off:
            # The offset changes at some t in (us, stop]: the bar ends at the first multiple at
            # or after t under the new offset (t itself when the wall time there is one).
            t = self._change(us, stop)
            after = self.offset(t)
            stop = -(-(t + after) // n) * n - after
        return start, stop

    def _change(self, a: int, b: int) -> int:
        """The first instant in (a, b] whose offset differs from `a`'s (there is one)."""
        off = self.offset(a)
        while b - a > 1:  # bisection: zoneinfo does not expose its transition list
            mid = (a + b) // 2
            if self.offset(mid) == off:
                a = mid
            else:
                b = mid
        return b
