"""Bars: one timestamp's bars that also carry their values by column, so per-bar work is cheap.

A feed that can build the columns in bulk (a replay does it once, at load, with C-speed
`dict(zip(...))`) hands them along with the rows; the sim broker then gives them to the
backtest broker as they are, and `SafeBroker` marks to market with dict updates instead of a
Python pass over every asset before each `on_data`. Any plain dict still works everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any


class Bars(dict[str, dict[str, Any]]):
    """`{asset: {"open", "high", "low", "close", "volume"}}` plus the same values by column.

    Build it with `from_columns` and do not change it afterwards: readers trust the columns to
    agree with the rows (a feed that must alter a bar builds a new dict).
    """

    __slots__ = ("opens", "highs", "lows", "closes", "volumes", "priced")

    opens: dict[str, Any]
    highs: dict[str, Any]
    lows: dict[str, Any]
    closes: dict[str, Any]
    volumes: dict[str, Any]
    #: Every close is a finite positive float (checked once, when built).
    priced: bool

    @classmethod
    def from_columns(
        cls,
        assets: Sequence[str],
        opens: Sequence[Any],
        highs: Sequence[Any],
        lows: Sequence[Any],
        closes: Sequence[Any],
        volumes: Sequence[Any],
    ) -> Bars:
        """Rows and columns from equally long sequences (one entry per asset, assets unique)."""
        bars = cls(
            {
                a: {"open": o, "high": h, "low": lo, "close": c, "volume": v}
                for a, o, h, lo, c, v in zip(
                    assets, opens, highs, lows, closes, volumes, strict=True
                )
            }
        )
        if len(bars) != len(assets):
            raise ValueError(f"bars for one timestamp name an asset twice: {list(assets)}")
        bars.opens = dict(zip(assets, opens, strict=True))
        bars.highs = dict(zip(assets, highs, strict=True))
        bars.lows = dict(zip(assets, lows, strict=True))
        bars.closes = dict(zip(assets, closes, strict=True))
        bars.volumes = dict(zip(assets, volumes, strict=True))
        bars.priced = _all_finite_positive_floats(bars.closes.values())
        return bars


def column_closes(data: Mapping[str, Mapping[str, Any]]) -> dict[str, float] | None:
    """The bar's closes as a column when every one is a finite positive float, else None (the
    caller then takes its field-by-field path). Costs no per-asset work: `Bars` checked its
    closes once, when it was built."""
    if not isinstance(data, Bars) or not getattr(data, "priced", False):
        return None
    closes = data.closes
    return closes if len(closes) == len(data) else None


def checked_closes(data: Mapping[str, Mapping[str, Any]]) -> dict[str, float] | None:
    """Every asset's close when all are finite positive floats, else None (then the caller
    goes field by field). For plain dict bars one comprehension plus the bulk check: about a
    third of a per-asset pass that checks each close."""
    closes = column_closes(data)
    if closes is not None:
        return closes
    try:
        closes = {asset: bar["close"] for asset, bar in data.items()}
    except (KeyError, TypeError, AttributeError):  # a bar without a close, or not a mapping
        return None
    return closes if _all_finite_positive_floats(closes.values()) else None


def _all_finite_positive_floats(values: Collection[Any]) -> bool:
    """In C-speed bulk steps (types, sum, min) rather than a Python pass per value."""
    if not values or set(map(type, values)) != {float}:
        return False
    # The sum is NaN or infinite if any value is (or if finite values overflow: then the
    # slow path decides); min > 0 rules out zero and negative prices.
    return math.isfinite(sum(values)) and min(values) > 0.0
