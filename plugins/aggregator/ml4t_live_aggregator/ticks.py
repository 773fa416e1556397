"""Many trade ticks in one call: the per-tick fast path of `BarAggregator.add_event` without
the per-event overhead (one call, one dict per tick, one `due()` per event).

For feeds that receive several trades at once but not enough to make a polars frame worth it
(`add_batch`): a websocket message with a handful of trades, IB's tick-by-tick callbacks drained
from a queue. The private state it reads is documented at `BarAggregator._arm`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ml4t_live_aggregator.inputs import OFF, InvalidTickError, check_timestamp
from ml4t_live_core.protocols import BarEvent

if TYPE_CHECKING:
    from ml4t_live_aggregator.aggregator import BarAggregator

_INF = float("inf")


def add_ticks(
    agg: BarAggregator,
    ticks: Iterable[tuple[datetime, str, float, float]],
    now: datetime | None = None,
) -> list[BarEvent]:
    """Fold many trade ticks `(timestamp, asset, price, size)` in one call; return the bars
    they completed. Same bars, late ticks and rejections as one `add_event` per tick, with
    less overhead per tick: for feeds that receive several trades at once."""
    ftz = agg._ftz
    limit = None if now is None else now + agg._max_skew
    fixed_limit = limit
    if limit is not None and ftz is not OFF and limit.tzinfo not in (ftz, None):
        fixed_limit = limit.astimezone(ftz)  # type: ignore[arg-type]
    events: list[BarEvent] = []
    fast = 0
    flo, fhi, fbars = agg._flo, agg._fhi, agg._fbars
    watermark = agg.watermark
    for tick in ticks:
        if type(tick) is tuple and len(tick) == 4:
            ts, asset, price, size = tick
            if (
                type(price) is float
                and type(size) is float
                and type(ts) is datetime
                and ts.tzinfo is ftz
                and flo <= ts < fhi
                and 0.0 < price < _INF
                and 0.0 <= size < _INF
                and type(asset) is str
                and (fixed_limit is None or ts <= fixed_limit)
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
                    if ts > watermark:
                        watermark = ts
                    fast += 1
                    continue
        else:
            agg.reject(f"tick {tick!r}: expected a (timestamp, asset, price, size) tuple")
            continue
        agg.watermark = watermark  # the local copy only ever grew from it
        try:
            check_timestamp(ts, str(asset))
        except InvalidTickError as exc:
            agg.reject(str(exc))
        else:
            agg._fold_slow(ts, asset, {"price": price, "size": size}, now, limit)
            events += agg.due()  # as if this tick were its own event
        ftz = agg._ftz
        fixed_limit = limit
        if limit is not None and ftz is not OFF and limit.tzinfo not in (ftz, None):
            fixed_limit = limit.astimezone(ftz)  # type: ignore[arg-type]
        flo, fhi, fbars = agg._flo, agg._fhi, agg._fbars
        watermark = agg.watermark
    agg.watermark = watermark
    if fast:
        agg.stats.ticks += fast
    return events


def fold_list(
    agg: BarAggregator,
    timestamp: datetime,
    asset: str,
    items: list[Any],
    now: datetime | None,
    limit: datetime | None,
) -> bool:
    """Several ticks or bars of one asset in one `add_event` (its fast block, per item); True
    when some item took the slow path (then the event must end with `due()`)."""
    ftz = agg._ftz
    flo, fhi, fbars = agg._flo, agg._fhi, agg._fbars
    fast = 0
    slow = False
    for item in items:
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
                    if ts > agg.watermark:
                        agg.watermark = ts
                    fast += 1
                    continue
        agg._fold_slow(timestamp, asset, item, now, limit)
        slow = True
        ftz = agg._ftz
        flo, fhi, fbars = agg._flo, agg._fhi, agg._fbars
    agg.stats.ticks += fast
    return slow
