"""The aggregator's typed settings ([feed] aggregate = "5min" plus an optional
[feed.aggregator])."""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from ml4t_live_core.config import PluginConfig

_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|sec|min|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> int:
    """'30s', '1min', '5min', '15min', '1h', '1d' -> seconds; the length must divide the hour or
    the day."""
    match = _INTERVAL.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"interval {text!r} is not like '30s', '1min', '5min', '1h' or '1d'")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"interval {text!r} must be longer than zero")
    if 3600 % seconds and 86400 % seconds:
        raise ValueError(
            f"interval {text!r} ({seconds} s) divides neither the hour nor the day, "
            f"so bars cannot align"
        )
    return seconds


class AggregatorConfig(PluginConfig):
    """Settings of the bar aggregator.

    Bars are labelled by their start (`label = "start"`), as ml4t-backtest reads intraday
    data by default (left-labelled `[start, end)` bars); `context["bar_end"]` carries the end.
    """

    interval: str
    #: Wall-clock seconds after a bar's end before it is emitted without a later tick (stuck bar).
    flush_after: float = Field(default=2.0, ge=0, allow_inf_nan=False)
    #: Event-time seconds a bar stays open after a later tick arrives, for slightly out-of-order
    #: feeds (several subscriptions): a bar is complete once a tick at `end + allowed_lateness`
    #: is seen.
    allowed_lateness: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    #: Live feeds: a tick stamped further than this ahead of the clock is rejected, not trusted.
    max_clock_skew: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    #: Bars align to midnight in this timezone (matters for intervals longer than an hour).
    timezone: str = "UTC"
    #: Exchange calendar (pandas-market-calendars name, e.g. "XNYS"): drops ticks outside the
    #: session, clips the first and last bar of a session to its open and close.
    calendar: str | None = None
    label: Literal["start", "end"] = "start"
    #: What happens when the consumer falls `max_pending_bars` bars behind: "block" stops reading
    #: the inner feed, "drop_oldest" discards the oldest waiting bar, "coalesce" merges the two
    #: oldest waiting bars into one. Every drop or merge is counted.
    backpressure: Literal["block", "drop_oldest", "coalesce"] = "block"
    max_pending_bars: int = Field(default=1000, ge=1)
    #: The assets expected in every bar; `context["missing"]` lists those without data.
    #: Defaults to every asset seen so far.
    assets: list[str] | None = None

    @field_validator("interval")
    @classmethod
    def _check_interval(cls, value: str) -> str:
        parse_interval(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("calendar")
    @classmethod
    def _check_calendar(cls, value: str | None) -> str | None:
        if value is not None:
            from ml4t_live_aggregator.sessions import load_calendar

            load_calendar(value)
        return value

    @property
    def interval_seconds(self) -> int:
        return parse_interval(self.interval)
