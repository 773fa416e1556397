"""The timestamps a strategy sees in `on_data`: as the feed delivers them, or as its backtest did.

ml4t-backtest hands a strategy whatever its price data holds: naive exchange-local times for
naive data (the usual case, e.g. its example data's 16:00 closes), aware ones otherwise. Live
feeds deliver aware UTC times, so time-of-day logic (`timestamp.hour == 15`) written against a
naive backtest would silently change meaning. `[runtime] strategy_timestamps` picks the view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

StrategyTimestamps = Literal["feed", "local", "naive-local"]
View = Callable[[datetime], datetime]


def timestamp_view(mode: StrategyTimestamps, timezone: str) -> View | None:
    """How to show an aware timestamp to the strategy (None: unchanged)."""
    if mode == "feed":
        return None
    tz = ZoneInfo(timezone)
    if mode == "local":
        return lambda ts: ts.astimezone(tz)
    return lambda ts: ts.astimezone(tz).replace(tzinfo=None)


def shown_context(context: Any, view: View) -> Any:
    """`context` with its aware datetimes (bar_start, bar_end ...) shown through `view` (a
    feed that passes something other than a mapping gets it back unchanged)."""
    if not isinstance(context, Mapping):
        return context
    return {
        key: view(value) if isinstance(value, datetime) and value.tzinfo is not None else value
        for key, value in context.items()
    }
