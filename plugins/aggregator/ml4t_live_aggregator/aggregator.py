"""BarAggregator: the synchronous state machine that folds ticks and source bars into N-second bars.

It owns no task and no timer: `add_event` / `add_ticks` / `add_batch` feed it, `poll(now)`
flushes bars whose end passed `flush_after` ago (the stuck bar), `finish()` ends the stream.
Each returns the completed bars as feed events `(label, {asset: ohlcv}, context)`, oldest first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ml4t_live_aggregator.boundaries import Boundaries
from ml4t_live_aggregator.config import AggregatorConfig
from ml4t_live_aggregator.inputs import (
    OFF,
    InvalidTickError,
    Piece,
    check_timestamp,
    fixed_offset,
    parse,
)
from ml4t_live_aggregator.sessions import Sessions
from ml4t_live_aggregator.stats import AggregatorStats
from ml4t_live_aggregator.ticks import add_ticks, fold_list
from ml4t_live_core.protocols import BarEvent

log = logging.getLogger("ml4t_live.aggregator")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INF = float("inf")
__all__ = ["AggregatorStats", "BarAggregator"]


class _Bucket:
    """One interval being built: [lo, hi) clipped to the session, bars per asset."""

    __slots__ = ("start", "stop", "lo", "hi", "bars")

    def __init__(self, start: datetime, stop: datetime, lo: datetime, hi: datetime):
        self.start, self.stop = start, stop  # aligned interval
        self.lo, self.hi = lo, hi  # the part inside the session (== start, stop without a calendar)
        #: asset -> [open, high, low, close, volume, first_ts, last_ts]
        self.bars: dict[str, list[Any]] = {}


class BarAggregator:
    """Folds ticks and start-labelled source bars into aligned bars; see the module docstring.

    A bar's open is its earliest piece (by timestamp; the first to arrive among equal
    timestamps), its close the latest (the last to arrive among equal timestamps), high and
    low the extremes of every piece's high and low, volume the sum.
    """

    def __init__(self, config: AggregatorConfig):
        self.config = config
        self.stats = AggregatorStats()
        self.interval = timedelta(seconds=config.interval_seconds)
        self.boundaries = Boundaries(config.interval_seconds, config.timezone)
        self.utc_aligned = self.boundaries.utc
        self.sessions = Sessions(config.calendar) if config.calendar else None
        self._flush_after = timedelta(seconds=config.flush_after)
        self._lateness = timedelta(seconds=config.allowed_lateness)
        self._max_skew = timedelta(seconds=config.max_clock_skew)
        self._pending: dict[datetime, _Bucket] = {}
        self._current: _Bucket | None = None
        #: Every tick before this instant belongs to an emitted bar: it is late.
        self.emitted_through = EPOCH
        self.watermark = EPOCH
        self._known: dict[str, None] = dict.fromkeys(config.assets or ())
        self._fixed_assets = config.assets is not None
        #: Intervals started so far: when it moves, the next flush deadline may be earlier.
        self.intervals_opened = 0
        # The fast path's state (see `_arm`); off until a slow tick arms it.
        self._ftz: object = OFF
        self._flo = self._fhi = EPOCH
        self._fbars: dict[str, list[Any]] = {}

    # --- input -----------------------------------------------------------------------------
    #
    # The fast path. Comparing two datetimes with the same tzinfo object is a field compare
    # (~20 ns); across tzinfo objects (UTC vs ZoneInfo("UTC")) it costs ~0.5-1.3 us. So the
    # open bar's bounds are kept converted to the zone of the ticks (`_ftz`, fixed-offset zones
    # only, where that is exact) and a tick of that zone inside [`_flo`, `_fhi`) folds straight
    # into `_fbars` with one chained comparison. `_fhi` is also capped at the earliest instant
    # a pending bar could become due, so a fast tick never needs `due()`. Everything else
    # (another bar, another zone, anything not a plain float tick) takes `_fold_slow`, which
    # is the reference behaviour and re-arms the fast path.

    def _arm(self, ts: datetime, bucket: _Bucket) -> None:
        """After a slow tick at `ts` landed in `bucket`: arm the fast path for `ts`'s zone."""
        tz = ts.tzinfo
        if not fixed_offset(tz):
            self._ftz = OFF
            return
        due_at = min(b.hi for b in self._pending.values()) + self._lateness
        self._flo = bucket.lo.astimezone(tz)
        self._fhi = min(bucket.hi, due_at).astimezone(tz)
        self._fbars = bucket.bars
        self._ftz = tz

    def add_event(
        self, timestamp: datetime, data: dict[str, Any], now: datetime | None = None
    ) -> list[BarEvent]:
        """Take one inner feed event (see `inputs`); return the bars it completed.

        With `now` (live feeds), a piece stamped more than `max_clock_skew` seconds in the future
        is rejected: one bad timestamp would otherwise close every open bar and make all the
        following ticks late.
        """
        ftz = self._ftz
        if type(timestamp) is not datetime or timestamp.tzinfo is not ftz:
            try:
                check_timestamp(timestamp, "event")
            except InvalidTickError as exc:
                self.reject(f"{exc} (assets {sorted(map(str, data))})")
                return []
        limit = None
        if now is not None:
            limit = now + self._max_skew
            if limit.tzinfo is not ftz and ftz is not OFF and limit.tzinfo is not None:
                limit = limit.astimezone(ftz)  # type: ignore[arg-type]
        slow = False
        fast = 0
        flo, fhi, fbars = self._flo, self._fhi, self._fbars
        # The fast block below is repeated in `ticks.fold_list` and `ticks.add_ticks`: a shared
        # helper would cost a call per tick, a large share of the whole per-tick cost.
        for asset, item in data.items():
            if type(item) is dict:
                price = item.get("price")
                size = item.get("size", 0.0)
                ts = item.get("timestamp", timestamp)
                if (
                    type(price) is float
                    and type(size) is float
                    and type(ts) is datetime
                    and ts.tzinfo is ftz
                    and flo <= ts < fhi
                    and 0.0 < price < _INF
                    and 0.0 <= size < _INF
                    and type(asset) is str
                    and (limit is None or ts <= limit)
                ):
                    bar = fbars.get(asset)
                    if bar is not None:
                        if price > bar[1]:
                            bar[1] = price
                        elif price < bar[2]:
                            bar[2] = price
                        bar[4] += size
                        if ts >= bar[6]:
                            bar[3] = price
                            bar[6] = ts
                        elif ts < bar[5]:
                            bar[0] = price
                            bar[5] = ts
                        if ts > self.watermark:
                            self.watermark = ts
                        fast += 1
                        continue
                self._fold_slow(timestamp, asset, item, now, limit)
            elif type(item) is list:
                if not fold_list(self, timestamp, asset, item, now, limit):
                    continue
            else:
                self._fold_slow(timestamp, asset, item, now, limit)
            slow = True
            ftz = self._ftz
            flo, fhi, fbars = self._flo, self._fhi, self._fbars
        if fast:
            self.stats.ticks += fast
        return self.due() if slow else []

    def add_ticks(
        self, ticks: Iterable[tuple[datetime, str, float, float]], now: datetime | None = None
    ) -> list[BarEvent]:
        """Fold many trade ticks `(timestamp, asset, price, size)` in one call (see `ticks`)."""
        return add_ticks(self, ticks, now)

    def _fold_slow(
        self,
        timestamp: datetime,
        asset: str,
        item: Any,
        now: datetime | None,
        limit: datetime | None,
    ) -> None:
        """The reference path for one item: full validation, clock-skew guard, `add_piece`."""
        try:
            piece = parse(timestamp, asset, item, checked=True)
        except InvalidTickError as exc:
            self.reject(str(exc))
            return
        if limit is not None and piece[0] > limit:
            self.reject(
                f"{asset} at {piece[0]}: timestamp is more than "
                f"{self.config.max_clock_skew} s ahead of the clock ({now})"
            )
            return
        self.add_piece(piece)

    def reject(self, reason: str) -> None:
        self.stats.rejected += 1
        self.stats.last_rejection = reason
        self.stats.note("rejected", "aggregator rejected input: %s", reason)

    def add_piece(self, piece: Piece) -> None:
        """Fold one validated tick or source bar in (no emission; call `due()` after)."""
        ts, asset, o, h, low, c, v = piece
        self.stats.ticks += 1
        current = self._current
        if current is None or not (current.lo <= ts < current.hi):
            if ts < self.emitted_through:
                self._late(asset, ts)
                return
            current = self._bucket_for(ts)
            if current is None:
                self.stats.outside_session += 1
                self.stats.note(
                    "outside_session",
                    "%s tick at %s is outside the %s session: dropped",
                    asset,
                    ts,
                    self.config.calendar,
                )
                return
            self._current = current
        bar = current.bars.get(asset)
        if bar is None:
            current.bars[asset] = [o, h, low, c, v, ts, ts]
            if asset not in self._known:
                self._known[asset] = None
        else:
            if h > bar[1]:
                bar[1] = h
            if low < bar[2]:
                bar[2] = low
            bar[4] += v
            if ts < bar[5]:
                bar[0], bar[5] = o, ts
            if ts >= bar[6]:
                bar[3], bar[6] = c, ts
        if ts > self.watermark:
            self.watermark = ts
        self._arm(ts, current)

    def merge(
        self,
        bucket: _Bucket,
        asset: str,
        agg: tuple[float, float, float, float, float, datetime, datetime],
    ) -> None:
        """Fold a pre-aggregated run of pieces (the batch path) into `bucket`'s bar for `asset`."""
        o, h, low, c, v, first, last = agg
        bar = bucket.bars.get(asset)
        if bar is None:
            bucket.bars[asset] = [o, h, low, c, v, first, last]
            if asset not in self._known:
                self._known[asset] = None
            return
        bar[1] = max(bar[1], h)
        bar[2] = min(bar[2], low)
        bar[4] += v
        if first < bar[5]:
            bar[0], bar[5] = o, first
        if last >= bar[6]:
            bar[3], bar[6] = c, last

    def _late(self, asset: str, ts: datetime) -> None:
        self.stats.late += 1
        self.stats.note(
            "late",
            "late tick %s at %s: its bar (up to %s) was already emitted; not applied",
            asset,
            ts,
            self.emitted_through,
        )

    # --- buckets ---------------------------------------------------------------------------
    def align(self, ts: datetime) -> datetime:
        """Start of the interval containing `ts`, aligned to midnight in the configured timezone
        (local wall-clock multiples of the interval, also across DST: see `boundaries`)."""
        return self.boundaries.bounds(ts)[0]

    def _bucket_for(self, ts: datetime) -> _Bucket | None:
        start, stop = self.boundaries.bounds(ts)
        lo, hi = start, stop
        if self.sessions is not None:
            session = self.sessions.session_at(ts)
            if session is None:
                return None
            lo, hi = max(start, session[0]), min(stop, session[1])
        return self.bucket(start, stop, lo, hi)

    def bucket(self, start: datetime, stop: datetime, lo: datetime, hi: datetime) -> _Bucket:
        found = self._pending.get(lo)
        if found is None:
            found = self._pending[lo] = _Bucket(start, stop, lo, hi)
            self.intervals_opened += 1
            self._ftz = OFF  # the earliest due instant may have moved
        return found

    # --- output ----------------------------------------------------------------------------
    def due(self) -> list[BarEvent]:
        """Bars that a later tick (by `allowed_lateness`) has shown complete."""
        pending = self._pending
        if not pending:
            return []
        horizon = self.watermark - self._lateness if self._lateness else self.watermark
        for bucket in pending.values():
            if bucket.hi <= horizon:
                return self._emit_until(lambda b: b.hi <= horizon)
        return []

    def next_deadline(self) -> datetime | None:
        """When `poll` will next have a stuck bar to flush (None: nothing pending)."""
        if not self._pending:
            return None
        return min(b.hi for b in self._pending.values()) + self._flush_after

    def poll(self, now: datetime) -> list[BarEvent]:
        """Flush bars whose end is at least `flush_after` before `now` (no later tick needed)."""
        if not self._pending:
            return []
        limit = now - self._flush_after
        events = self._emit_until(lambda b: b.hi <= limit)
        self.stats.flushed_by_timer += len(events)
        return events

    def finish(self, now: datetime | None = None) -> list[BarEvent]:
        """The stream ended: emit what is pending. With `now`, bars not yet over are discarded
        (a partial bar is never handed to a live strategy) and counted."""
        events = self._emit_until(lambda b: now is None or b.hi <= now)
        for bucket in self._pending.values():
            self.stats.partial_discarded += 1
            log.warning("feed ended inside bar %s-%s: partial bar discarded", bucket.lo, bucket.hi)
        self._pending.clear()
        self._current = None
        self._ftz = OFF
        return events

    def _emit_until(self, complete: Any) -> list[BarEvent]:
        ready = sorted((b for b in self._pending.values() if complete(b)), key=lambda b: b.lo)
        if not ready:
            return []
        self._ftz = OFF
        events = []
        for bucket in ready:
            del self._pending[bucket.lo]
            if bucket is self._current:
                self._current = None
            if bucket.stop > self.emitted_through:
                self.emitted_through = bucket.stop
            events.append(self._event(bucket))
        self.stats.bars_emitted += len(events)
        return events

    def _event(self, bucket: _Bucket) -> BarEvent:
        data = {
            asset: {"open": b[0], "high": b[1], "low": b[2], "close": b[3], "volume": b[4]}
            for asset, b in bucket.bars.items()
        }
        missing = [a for a in self._known if a not in data]
        context = {
            "bar_start": bucket.lo,
            "bar_end": bucket.hi,
            "interval": self.config.interval,
            "missing": missing,
        }
        label = bucket.lo if self.config.label == "start" else bucket.hi
        return label, data, context
