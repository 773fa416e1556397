"""Bar boundaries: aligned to the interval in the configured timezone, clipped to exchange
sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from ml4t_live_aggregator import AggregatorConfig, BarAggregator, add_batch

INTERVALS = [
    "1s",
    "5s",
    "30s",
    "1min",
    "2min",
    "5min",
    "10min",
    "15min",
    "20min",
    "30min",
    "1h",
    "2h",
    "3h",
    "4h",
    "6h",
    "12h",
    "1d",
]
ZONES = ["UTC", "America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Adelaide"]


@settings(max_examples=500, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(INTERVALS),
    st.sampled_from(ZONES),
)
def test_every_timestamp_falls_in_one_aligned_interval(ts, interval, zone):
    agg = BarAggregator(AggregatorConfig(interval=interval, timezone=zone))
    start = agg.align(ts)
    n = agg.config.interval_seconds
    stop = agg.boundaries.bounds(ts)[1]
    assert start <= ts < stop
    # On a DST day a bar may be longer or shorter by the shift (see test_dst_boundaries.py).
    assert abs((stop - start).total_seconds() - n) <= 3600
    local = start.astimezone(ZoneInfo(zone))
    midnight = datetime.combine(local.date(), datetime.min.time())
    assert (local.replace(tzinfo=None) - midnight).total_seconds() % n == 0


def test_five_minute_bars_start_on_the_five_minutes():
    agg = BarAggregator(AggregatorConfig(interval="5min"))
    assert agg.align(datetime(2024, 3, 4, 14, 33, 59, 999999, tzinfo=UTC)) == datetime(
        2024, 3, 4, 14, 30, tzinfo=UTC
    )
    assert agg.align(datetime(2024, 3, 4, 14, 35, tzinfo=UTC)) == datetime(
        2024, 3, 4, 14, 35, tzinfo=UTC
    )


def test_four_hour_bars_align_to_local_midnight_of_the_configured_timezone():
    ny = ZoneInfo("America/New_York")
    ts = datetime(2024, 3, 4, 10, 0, tzinfo=ny)
    assert BarAggregator(AggregatorConfig(interval="4h", timezone="America/New_York")).align(
        ts
    ) == datetime(2024, 3, 4, 8, 0, tzinfo=ny)
    assert BarAggregator(AggregatorConfig(interval="4h")).align(ts) == datetime(
        2024, 3, 4, 12, 0, tzinfo=UTC
    )


def test_hourly_bars_in_a_half_hour_timezone_start_on_the_local_hour():
    kolkata = ZoneInfo("Asia/Kolkata")
    agg = BarAggregator(AggregatorConfig(interval="1h", timezone="Asia/Kolkata"))
    assert agg.align(datetime(2024, 3, 4, 10, 45, tzinfo=kolkata)) == datetime(
        2024, 3, 4, 10, 0, tzinfo=kolkata
    )


def test_input_timezone_does_not_matter_only_the_instant():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    ny = ZoneInfo("America/New_York")
    agg.add_event(datetime(2024, 3, 4, 9, 30, 10, tzinfo=ny), {"A": {"price": 1.0, "size": 1}})
    agg.add_event(datetime(2024, 3, 4, 14, 30, 20, tzinfo=UTC), {"A": {"price": 2.0, "size": 1}})
    ((ts, data, _),) = agg.finish()
    assert ts == datetime(2024, 3, 4, 14, 30, tzinfo=UTC) and data["A"]["volume"] == 2.0


# 2024-11-29, the day after Thanksgiving: NYSE opens 14:30 UTC and closes early at 18:00 UTC.
OPEN = datetime(2024, 11, 29, 14, 30, tzinfo=UTC)
CLOSE = datetime(2024, 11, 29, 18, 0, tzinfo=UTC)


def session_agg(interval: str = "1h", **options) -> BarAggregator:
    return BarAggregator(
        AggregatorConfig(interval=interval, calendar="XNYS", flush_after=2.0, **options)
    )


def test_no_bar_outside_the_session_and_out_of_session_ticks_are_counted():
    agg = session_agg("1min")
    events = []
    for ts in (
        OPEN - timedelta(minutes=20),
        OPEN + timedelta(seconds=5),
        CLOSE - timedelta(seconds=1),
        CLOSE + timedelta(minutes=5),
        datetime(2024, 11, 30, 15, 0, tzinfo=UTC),
    ):  # Saturday
        events += agg.add_event(ts, {"A": {"price": 1.0, "size": 1}})
    events += agg.finish()
    assert [e[0] for e in events] == [OPEN, CLOSE - timedelta(minutes=1)]
    assert agg.stats.outside_session == 3
    assert all(OPEN <= ctx["bar_start"] < ctx["bar_end"] <= CLOSE for _, _, ctx in events)


def test_first_and_last_bars_of_a_session_are_clipped_to_open_and_close():
    agg = session_agg("1h")
    events = agg.add_event(OPEN + timedelta(minutes=1), {"A": {"price": 1.0, "size": 1}})
    events += agg.add_event(CLOSE - timedelta(minutes=1), {"A": {"price": 2.0, "size": 1}})
    ((ts, _, ctx),) = events
    assert (
        ts == OPEN
        and ctx["bar_start"] == OPEN
        and ctx["bar_end"] == datetime(2024, 11, 29, 15, 0, tzinfo=UTC)
    )
    assert agg.next_deadline() == CLOSE + timedelta(seconds=2)


def test_session_close_bar_is_emitted_at_the_close_without_a_later_tick_once():
    agg = session_agg("1h")
    agg.add_event(CLOSE - timedelta(minutes=30), {"A": {"price": 2.0, "size": 1}})
    assert agg.poll(CLOSE + timedelta(seconds=1.9)) == []
    ((ts, data, ctx),) = agg.poll(CLOSE + timedelta(seconds=2))
    assert ts == datetime(2024, 11, 29, 17, 0, tzinfo=UTC) and ctx["bar_end"] == CLOSE
    assert agg.poll(CLOSE + timedelta(days=1)) == []
    # The next session's first tick opens a new bar; the closed one is never re-emitted.
    nxt = datetime(2024, 12, 2, 14, 31, tzinfo=UTC)
    agg.add_event(nxt, {"A": {"price": 3.0, "size": 1}})
    ((ts2, _, _),) = agg.finish()
    assert ts2 == datetime(2024, 12, 2, 14, 30, tzinfo=UTC) and agg.stats.bars_emitted == 2


def test_batch_path_applies_the_same_session_rules():
    times = [
        OPEN - timedelta(minutes=1),
        OPEN + timedelta(minutes=1),
        CLOSE - timedelta(minutes=1),
        CLOSE,
    ]
    frame = pl.DataFrame(
        {"timestamp": times, "asset": ["A"] * 4, "price": [1.0, 2.0, 3.0, 4.0], "size": [1.0] * 4}
    )
    batched = session_agg("1h")
    events = add_batch(batched, frame) + batched.finish()
    one_by_one = session_agg("1h")
    expected = []
    for ts, price in zip(times, [1.0, 2.0, 3.0, 4.0], strict=True):
        expected += one_by_one.add_event(ts, {"A": {"price": price, "size": 1.0}})
    expected += one_by_one.finish()
    assert (
        events == expected
        and batched.stats.outside_session == one_by_one.stats.outside_session == 2
    )
