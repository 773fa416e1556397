"""The fast per-tick path (plain float ticks, bounds cached in the ticks' zone) and `add_ticks`
give exactly the bars, late counts and rejections of the reference path (validated pieces through
`add_piece`), whatever the zones, lateness, order and clock skew."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from ml4t_live_aggregator import AggregatorConfig, BarAggregator
from ml4t_live_aggregator.inputs import parse

T0 = datetime(2024, 3, 4, 14, 0, tzinfo=UTC)
ZONES = [UTC, ZoneInfo("UTC"), timezone(timedelta(hours=5, minutes=30)), ZoneInfo("Asia/Tokyo")]

tick = st.tuples(
    st.integers(0, 12 * 60 * 1000),  # ms after T0
    st.sampled_from(["AAA", "BBB", "CCC"]),
    st.floats(0.01, 1e6, allow_nan=False, allow_infinity=False),
    st.integers(0, 10_000),  # integer sizes keep sums exact
    st.sampled_from(range(len(ZONES))),
)
options = st.fixed_dictionaries(
    {
        "interval": st.sampled_from(["5s", "1min", "5min"]),
        "allowed_lateness": st.sampled_from([0.0, 3.0, 30.0]),
        "max_clock_skew": st.sampled_from([5.0, 600.0]),
    }
)


def stamp(ms: int, zone: int) -> datetime:
    return (T0 + timedelta(milliseconds=ms)).astimezone(ZONES[zone])


def reference(ticks: list, now: datetime | None, **config) -> tuple[list, BarAggregator]:
    """Every tick through `parse` and `add_piece` (the path the fast one short-cuts)."""
    agg = BarAggregator(AggregatorConfig(**config))
    limit = None if now is None else now + timedelta(seconds=config["max_clock_skew"])
    events = []
    for ms, asset, price, size, zone in ticks:
        ts = stamp(ms, zone)
        piece = parse(ts, asset, {"price": price, "size": float(size)})
        if limit is not None and piece[0] > limit:
            agg.stats.rejected += 1
        else:
            agg.add_piece(piece)
        events += agg.due()
    return events + agg.finish(), agg


def summary(events: list, agg: BarAggregator) -> tuple:
    s = agg.stats
    return [(ts, data, ctx) for ts, data, ctx in events], s.ticks, s.late, s.rejected


@settings(max_examples=300, deadline=None)
@given(st.lists(tick, max_size=200), options, st.booleans(), st.booleans(), st.booleans())
def test_add_event_equals_the_reference_path(ticks, config, live, ordered, as_list):
    ticks = sorted(ticks, key=lambda t: t[0]) if ordered else ticks  # mostly fast when ordered
    now = T0 + timedelta(minutes=6) if live else None
    agg = BarAggregator(AggregatorConfig(**config))
    events = []
    for ms, asset, price, size, zone in ticks:
        ts = stamp(ms, zone)
        tick = {"price": price, "size": float(size)}
        # as_list: the shape of Alpaca's trade ticks, a list of ticks with their own timestamps
        data = {asset: [{**tick, "timestamp": ts}]} if as_list else {asset: tick}
        events += agg.add_event(ts, data, now)
    events += agg.finish()
    assert summary(events, agg) == summary(*reference(ticks, now, **config))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(tick, max_size=200),
    options,
    st.lists(st.integers(1, 40), min_size=1),
    st.booleans(),
    st.booleans(),
)
def test_add_ticks_in_blocks_equals_the_reference_path(ticks, config, blocks, live, ordered):
    ticks = sorted(ticks, key=lambda t: t[0]) if ordered else ticks
    now = T0 + timedelta(minutes=6) if live else None
    agg = BarAggregator(AggregatorConfig(**config))
    rows = [(stamp(ms, z), asset, price, float(size)) for ms, asset, price, size, z in ticks]
    events, i, b = [], 0, 0
    while i < len(rows):
        n = blocks[b % len(blocks)]
        events += agg.add_ticks(rows[i : i + n], now)
        i, b = i + n, b + 1
    events += agg.finish()
    assert summary(events, agg) == summary(*reference(ticks, now, **config))


def test_add_ticks_rejects_bad_ticks_by_name_and_keeps_the_good_ones():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    good = (T0, "AAA", 10.0, 1.0)
    agg.add_ticks(
        [
            good,
            (T0, "AAA", math.nan, 1.0),
            (T0, "AAA", 10.0, -1.0),
            (T0.replace(tzinfo=None), "AAA", 10.0, 1.0),
            (T0, "", 10.0, 1.0),
            (T0, "AAA", 10.0),
            (T0 + timedelta(seconds=1), "AAA", 11.0, 2.0),
        ]
    )
    assert agg.stats.rejected == 5 and "(timestamp, asset, price, size)" in agg.stats.last_rejection
    ((_, data, _),) = agg.finish()
    assert data == {"AAA": {"open": 10.0, "high": 11.0, "low": 10.0, "close": 11.0, "volume": 3.0}}


def test_a_late_tick_after_a_fast_run_is_counted_not_applied():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    ticks = [(T0 + timedelta(seconds=s), "AAA", 10.0 + s, 1.0) for s in range(60)]
    assert agg.add_ticks(ticks) == []
    ((_, first, _),) = agg.add_ticks([(T0 + timedelta(seconds=60), "AAA", 5.0, 1.0)])
    assert first["AAA"] == {"open": 10.0, "high": 69.0, "low": 10.0, "close": 69.0, "volume": 60.0}
    assert agg.add_ticks([(T0 + timedelta(seconds=59), "AAA", 1.0, 1.0)]) == []
    assert agg.stats.late == 1 and agg.stats.ticks == 62
