"""How a feed hands ticks and source bars to the aggregator, and their validation.

Per asset, an inner feed event's `data[asset]` is one of:

* a **trade tick**: ``{"price": float, "size": float}`` (``size`` defaults to 0), optionally with
  its own timezone-aware ``"timestamp"`` (else the event's timestamp is the tick's time);
* a **source bar** (e.g. IB's 5-second real-time bars), labelled by its start:
  ``{"open", "high", "low", "close", "volume"}`` (optional ``"timestamp"`` as for ticks);
* a **list** of those, for several ticks of one asset in one event.

Prices must be finite and positive, sizes and volumes finite and not negative, a bar's high and
low must bracket its open and close. Anything else is rejected with `InvalidTickError` naming the
asset and the timestamp, and is never folded into a bar.
"""

from __future__ import annotations

import math
import numbers
from datetime import datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

#: (timestamp, asset, open, high, low, close, volume); a tick has open = high = low = close.
Piece = tuple[datetime, str, float, float, float, float, float]

_BAR_KEYS = ("open", "high", "low", "close", "volume")
_INF = math.inf
#: ZoneInfo keys without DST: comparing two datetimes in one of these is exact (see `fixed_offset`).
_FIXED_KEYS = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu",
     "GMT", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "Etc/Greenwich", "Greenwich"}
)


class InvalidTickError(ValueError):
    """A tick or source bar that must not reach a bar; the message names asset and timestamp."""


def check_timestamp(ts: Any, asset: str) -> datetime:
    if not isinstance(ts, datetime) or ts.utcoffset() is None:
        raise InvalidTickError(f"{asset}: timestamp {ts!r} is not a timezone-aware datetime")
    return ts


class _NoZone:
    """Sentinel: no tick's tzinfo is this object, so the fast path is off."""


OFF = _NoZone()


def fixed_offset(tz: tzinfo | None) -> bool:
    """True for fixed-offset zones, where same-tzinfo comparison (it ignores `fold`) is exact."""
    return type(tz) is timezone or (type(tz) is ZoneInfo and tz.key in _FIXED_KEYS)


def parse(timestamp: datetime, asset: str, item: Any, *, checked: bool = False) -> Piece:
    """One tick or source bar as a `Piece`; raises `InvalidTickError` when it is unusable.

    `checked` says the event timestamp was already validated (the per-event fast path).
    """
    if type(asset) is not str or not asset:
        raise InvalidTickError(f"asset name {asset!r} at {timestamp} is not a non-empty string")
    if type(item) is not dict:
        raise InvalidTickError(
            f"{asset} at {timestamp}: expected a tick or bar dict, got {type(item).__name__}"
        )
    if "timestamp" in item:
        ts = check_timestamp(item["timestamp"], asset)
    else:
        ts = timestamp if checked else check_timestamp(timestamp, asset)
    price = item.get("price")
    if price is not None or "price" in item:
        price = _number(price, "price", asset, ts)
        size = item.get("size", 0.0)
        size = (
            size if type(size) is float and -1.0 < size < _INF else _number(size, "size", asset, ts)
        )
        if price <= 0:
            raise InvalidTickError(f"{asset} at {ts}: price {price} is not positive")
        if size < 0:
            raise InvalidTickError(f"{asset} at {ts}: size {size} is negative")
        return ts, asset, price, price, price, price, size
    if "open" in item:
        missing = [k for k in _BAR_KEYS if k not in item]
        if missing:
            raise InvalidTickError(f"{asset} at {ts}: source bar lacks {missing}")
        o, h, low, c, v = (_number(item[k], k, asset, ts) for k in _BAR_KEYS)
        if min(o, h, low, c) <= 0:
            raise InvalidTickError(f"{asset} at {ts}: non-positive price in bar {o}/{h}/{low}/{c}")
        if v < 0:
            raise InvalidTickError(f"{asset} at {ts}: volume {v} is negative")
        if h < max(o, c, low) or low > min(o, c):
            raise InvalidTickError(
                f"{asset} at {ts}: high {h} / low {low} do not bracket open {o} and close {c}"
            )
        return ts, asset, o, h, low, c, v
    raise InvalidTickError(
        f"{asset} at {ts}: neither a tick (price, size) nor a bar "
        f"(open, high, low, close, volume): keys {sorted(item)}"
    )


def _number(value: Any, name: str, asset: str, ts: datetime) -> float:
    if type(value) is float and -_INF < value < _INF:  # the common case, without the ABC check
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTickError(f"{asset} at {ts}: {name} {value!r} is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidTickError(f"{asset} at {ts}: {name} is {value}, not finite")
    return value
