"""Bars across DST shifts: local wall-clock multiples of the interval, the same in the per-event
and the batch path (the rule is in ml4t_live_aggregator/boundaries.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ml4t_live_aggregator import AggregatorConfig, BarAggregator, add_batch

US = timedelta(microseconds=1)
INTERVALS = ["1s", "1min", "5min", "15min", "20min", "30min", "1h", "2h", "3h", "4h", "12h", "1d"]
ZONES = ["America/New_York", "Europe/London", "Australia/Adelaide", "Australia/Lord_Howe"]
#: Days with a DST change in 2024 in at least one of ZONES (Lord Howe shifts by 30 minutes).
SHIFT_DAYS = [
    datetime(2024, 3, 10, tzinfo=UTC),  # New York, spring
    datetime(2024, 11, 3, tzinfo=UTC),  # New York, fall
    datetime(2024, 3, 31, tzinfo=UTC),  # London, spring
    datetime(2024, 10, 27, tzinfo=UTC),  # London, fall
    datetime(2024, 4, 6, tzinfo=UTC),  # Adelaide and Lord Howe, fall
    datetime(2024, 10, 5, tzinfo=UTC),  # Adelaide and Lord Howe, spring
]
NY = ZoneInfo("America/New_York")


def is_boundary(t: datetime, zone: ZoneInfo, seconds: int) -> bool:
    """Whether the local wall-clock time at `t` is a multiple of `seconds` since midnight."""
    wall = t.astimezone(zone)
    return (wall.hour * 3600 + wall.minute * 60 + wall.second) % seconds == 0 and not (
        wall.microsecond
    )


def oracle(ts: datetime, zone: ZoneInfo, seconds: int) -> tuple[datetime, datetime]:
    """The bar holding `ts` by brute force: walk a grid that holds every boundary (intervals of
    a minute or more are whole minutes, and every shift in ZONES happens on a whole minute)."""
    step = timedelta(seconds=min(seconds, 60))
    grid = UTC_EPOCH + (ts - UTC_EPOCH) // step * step
    start = grid
    while not is_boundary(start, zone, seconds):
        start -= step
    stop = grid + step
    while not is_boundary(stop, zone, seconds):
        stop += step
    return start, stop


UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
near_a_shift = st.builds(
    lambda day, us: day + timedelta(microseconds=us),
    st.sampled_from(SHIFT_DAYS),
    st.integers(-86_400_000_000, 2 * 86_400_000_000),
)


@settings(max_examples=600, deadline=None)
@given(near_a_shift, st.sampled_from(INTERVALS), st.sampled_from(ZONES))
def test_a_bar_runs_from_one_local_multiple_of_the_interval_to_the_next(ts, interval, zone):
    agg = BarAggregator(AggregatorConfig(interval=interval, timezone=zone))
    tz, n = ZoneInfo(zone), agg.config.interval_seconds
    start, stop = agg.boundaries.bounds(ts)
    assert (start, stop) == oracle(ts, tz, n)
    assert agg.boundaries.bounds(start) == agg.boundaries.bounds(stop - US) == (start, stop)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(SHIFT_DAYS),
    st.lists(st.integers(-86_400, 2 * 86_400), max_size=100),
    st.sampled_from(INTERVALS),
    st.sampled_from(ZONES),
)
def test_batch_and_per_event_paths_make_the_same_bars_across_a_shift(day, seconds, interval, zone):
    times = sorted(day + timedelta(seconds=s) for s in seconds)
    options = {"interval": interval, "timezone": zone}
    assert _batched(times, options) == _one_by_one(times, options)


def _one_by_one(times: list[datetime], options: dict) -> list:
    agg = BarAggregator(AggregatorConfig(**options))
    events = []
    for i, ts in enumerate(times):
        events += agg.add_event(ts, {"A": {"price": 1.0 + i, "size": 1.0}})
    return events + agg.finish()


def _batched(times: list[datetime], options: dict) -> list:
    agg = BarAggregator(AggregatorConfig(**options))
    frame = pl.DataFrame(
        {
            "timestamp": times,
            "asset": ["A"] * len(times),
            "price": [1.0 + i for i in range(len(times))],
            "size": [1.0] * len(times),
        },
        schema={
            "timestamp": pl.Datetime("us", "UTC"),
            "asset": pl.String,
            "price": pl.Float64,
            "size": pl.Float64,
        },
    )
    return add_batch(agg, frame) + agg.finish()


def _bars(times: list[datetime], **options) -> list[tuple[datetime, datetime, float]]:
    """(bar_start, bar_end, volume) per bar, checked to be the same in both paths."""
    events = _one_by_one(times, options)
    assert _batched(times, options) == events
    return [(c["bar_start"], c["bar_end"], d["A"]["volume"]) for _, d, c in events]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_4h_bar_across_the_spring_shift_is_one_local_bar_of_three_hours():
    # local 00:00 EST - 04:00 EDT on 2024-03-10 is 05:00-08:00 UTC; 07:00 UTC is 03:00 EDT
    times = [utc(2024, 3, 10, 5), utc(2024, 3, 10, 7, 30), utc(2024, 3, 10, 8)]
    assert _bars(times, interval="4h", timezone="America/New_York") == [
        (utc(2024, 3, 10, 5), utc(2024, 3, 10, 8), 2.0),
        (utc(2024, 3, 10, 8), utc(2024, 3, 10, 12), 1.0),
    ]


def test_a_4h_bar_across_the_fall_shift_is_one_local_bar_of_five_hours():
    # local 00:00 EDT - 04:00 EST on 2024-11-03 is 04:00-09:00 UTC, the repeated hour inside
    times = [utc(2024, 11, 3, 4), utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6, 30)]
    assert _bars(times + [utc(2024, 11, 3, 9)], interval="4h", timezone="America/New_York") == [
        (utc(2024, 11, 3, 4), utc(2024, 11, 3, 9), 3.0),
        (utc(2024, 11, 3, 9), utc(2024, 11, 3, 13), 1.0),
    ]


def test_the_repeated_hour_has_each_15_minute_and_hourly_bar_twice():
    times = [utc(2024, 11, 3, 5, 50), utc(2024, 11, 3, 6, 5), utc(2024, 11, 3, 6, 50)]
    bars = _bars(times, interval="15min", timezone="America/New_York")
    assert [(start, stop) for start, stop, _ in bars] == [
        (utc(2024, 11, 3, 5, 45), utc(2024, 11, 3, 6)),  # 01:45 EDT
        (utc(2024, 11, 3, 6), utc(2024, 11, 3, 6, 15)),  # 01:00 EST
        (utc(2024, 11, 3, 6, 45), utc(2024, 11, 3, 7)),  # 01:45 EST
    ]
    assert [start.astimezone(NY).strftime("%H:%M %Z") for start, _, _ in bars] == [
        "01:45 EDT", "01:00 EST", "01:45 EST",
    ]
    hourly = _bars(times, interval="1h", timezone="America/New_York")
    assert [(start, stop) for start, stop, _ in hourly] == [
        (utc(2024, 11, 3, 5), utc(2024, 11, 3, 6)),  # 01:00 EDT
        (utc(2024, 11, 3, 6), utc(2024, 11, 3, 7)),  # 01:00 EST
    ]


@pytest.mark.parametrize(
    ("day", "hours"),
    [(utc(2024, 3, 10, 12), 23), (utc(2024, 11, 3, 12), 25), (utc(2024, 3, 4), 24)],
)
def test_a_day_bar_runs_from_local_midnight_to_local_midnight(day, hours):
    [(start, stop, _)] = _bars([day], interval="1d", timezone="America/New_York")
    assert start.astimezone(NY).time() == stop.astimezone(NY).time() == datetime.min.time()
    assert stop - start == timedelta(hours=hours)


def test_a_half_hour_shift_lengthens_the_hour_bar_that_holds_the_jump():
    # Lord Howe, 2024-10-06: 02:00 (+10:30) jumps to 02:30 (+11), at 15:30 UTC on 10-05;
    # local 02:00 never happens, so the 01:00 bar runs to 03:00.
    zone = ZoneInfo("Australia/Lord_Howe")
    times = [utc(2024, 10, 5, 15, 0), utc(2024, 10, 5, 15, 40)]  # 01:30 and 02:40 local
    [(start, stop, volume)] = _bars(times, interval="1h", timezone="Australia/Lord_Howe")
    assert (start.astimezone(zone).strftime("%H:%M"), stop.astimezone(zone).strftime("%H:%M")) == (
        "01:00", "03:00",
    )
    assert (stop - start, volume) == (timedelta(minutes=90), 2.0)
