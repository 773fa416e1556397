"""Property tests: every emitted bar is exactly the OHLCV of its ticks; no tick is lost or
doubled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from ml4t_live_aggregator import AggregatorConfig, BarAggregator, add_batch

T0 = datetime(2024, 3, 4, 14, 0, tzinfo=UTC)
ASSETS = ["AAA", "BBB", "CCC"]
INTERVALS = {"5s": 5, "1min": 60, "5min": 300}

# (seconds after T0 in milliseconds, asset, price, size); integer sizes keep sums exact.
tick = st.tuples(
    st.integers(0, 15 * 60 * 1000),
    st.sampled_from(ASSETS),
    st.floats(0.01, 1e6, allow_nan=False, allow_infinity=False),
    st.integers(0, 10_000),
)
ticks_st = st.lists(tick, max_size=200)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def reference(ticks: list[tuple[int, str, float, int]], seconds: int) -> tuple[list, int]:
    """An independent model of the documented semantics: a bar is complete once a tick at or
    after its end arrived; a tick before the end of an emitted bar is late."""
    n = seconds * 1000
    pending: dict[int, list[tuple[int, int, str, float, int]]] = {}
    emitted, late, emitted_through, watermark = [], 0, -1, -1

    def emit(keys: list[int]) -> None:
        nonlocal emitted_through
        for key in sorted(keys):
            rows = sorted(pending.pop(key))  # by timestamp, then arrival
            bars = {}
            for asset in dict.fromkeys(r[2] for r in rows):
                mine = [r for r in rows if r[2] == asset]
                prices = [r[3] for r in mine]
                bars[asset] = {
                    "open": prices[0],
                    "high": max(prices),
                    "low": min(prices),
                    "close": prices[-1],
                    "volume": float(sum(r[4] for r in mine)),
                }
            emitted.append((at(key), bars))
            emitted_through = max(emitted_through, key + n)

    for seq, (ms, asset, price, size) in enumerate(ticks):
        if ms < emitted_through:
            late += 1
            continue
        pending.setdefault(ms // n * n, []).append((ms, seq, asset, price, size))
        watermark = max(watermark, ms)
        emit([k for k in pending if k + n <= watermark])
    emit(list(pending))
    return emitted, late


def run(
    ticks: list[tuple[int, str, float, int]], interval: str, **options
) -> tuple[list, BarAggregator]:
    agg = BarAggregator(AggregatorConfig(interval=interval, **options))
    events = []
    for ms, asset, price, size in ticks:
        events += agg.add_event(at(ms), {asset: {"price": price, "size": size}})
    events += agg.finish()
    return events, agg


@settings(max_examples=300, deadline=None)
@given(ticks_st, st.sampled_from(sorted(INTERVALS)))
def test_bars_match_open_first_close_last_extremes_and_sum(ticks, interval):
    events, agg = run(ticks, interval)
    expected, late = reference(ticks, INTERVALS[interval])
    assert [(ts, data) for ts, data, _ in events] == expected
    assert agg.stats.late == late


@settings(max_examples=300, deadline=None)
@given(st.lists(tick, max_size=200), st.sampled_from(sorted(INTERVALS)))
def test_every_tick_is_in_exactly_one_bar_or_counted_late(ticks, interval):
    unit = [(ms, asset, price, 1) for ms, asset, price, _ in ticks]  # volume then counts ticks
    events, agg = run(unit, interval, assets=ASSETS)
    in_bars = sum(bar["volume"] for _, data, _ in events for bar in data.values())
    assert in_bars + agg.stats.late == len(unit)
    assert agg.stats.ticks == len(unit)
    starts = [ctx["bar_start"] for _, _, ctx in events]
    assert starts == sorted(set(starts)), "bars are emitted once each, oldest first"
    for ts, data, ctx in events:
        assert ctx["bar_end"] - ctx["bar_start"] == timedelta(seconds=INTERVALS[interval])
        assert ts == ctx["bar_start"]
        assert sorted(ctx["missing"]) == sorted(set(ASSETS) - set(data))
        for bar in data.values():
            assert (
                bar["low"]
                <= min(bar["open"], bar["close"])
                <= max(bar["open"], bar["close"])
                <= bar["high"]
            )


@settings(max_examples=200, deadline=None)
@given(
    ticks_st,
    st.lists(st.integers(1, 50), min_size=1, max_size=20),
    st.sampled_from(sorted(INTERVALS)),
)
def test_batch_path_equals_per_event_path(ticks, chunks, interval):
    ordered = sorted(
        ticks, key=lambda t: t[0]
    )  # a batch is one event: compare on time-ordered streams
    per_event, _ = run(ordered, interval)
    agg = BarAggregator(AggregatorConfig(interval=interval))
    batched, i, c = [], 0, 0
    while i < len(ordered):
        part = ordered[i : i + chunks[c % len(chunks)]]
        i, c = i + len(part), c + 1
        frame = pl.DataFrame(
            {
                "timestamp": [at(ms) for ms, *_ in part],
                "asset": [a for _, a, _, _ in part],
                "price": [p for _, _, p, _ in part],
                "size": [float(s) for *_, s in part],
            },
            schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
        )
        batched += add_batch(agg, frame)
    batched += agg.finish()
    assert [(ts, data) for ts, data, _ in batched] == [(ts, data) for ts, data, _ in per_event]
    assert agg.stats.ticks == len(ordered) and agg.stats.late == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(tick, max_size=200))
def test_five_second_bars_into_one_minute_equal_ticks_into_one_minute(ticks):
    ordered = sorted(ticks, key=lambda t: t[0])
    direct, _ = run(ordered, "1min")
    # Source bars built independently of the aggregator (polars), start-labelled like IB's.
    frame = pl.DataFrame(
        {
            "timestamp": [at(ms) for ms, *_ in ordered],
            "asset": [a for _, a, _, _ in ordered],
            "price": [p for _, _, p, _ in ordered],
            "size": [float(s) for *_, s in ordered],
        },
        schema={
            "timestamp": pl.Datetime("us", "UTC"),
            "asset": pl.String,
            "price": pl.Float64,
            "size": pl.Float64,
        },
    )
    five = (
        frame.with_columns(pl.col("timestamp").dt.truncate("5s").alias("start"))
        .group_by("start", "asset", maintain_order=True)
        .agg(
            open=pl.col("price").first(),
            high=pl.col("price").max(),
            low=pl.col("price").min(),
            close=pl.col("price").last(),
            volume=pl.col("size").sum(),
        )
        .sort("start", maintain_order=True)
    )
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    from_bars = []
    for (start,), group in five.group_by("start", maintain_order=True):
        data = {
            row["asset"]: {k: row[k] for k in ("open", "high", "low", "close", "volume")}
            for row in group.iter_rows(named=True)
        }
        from_bars += agg.add_event(start, data)
    from_bars += agg.finish()
    assert [(ts, data) for ts, data, _ in from_bars] == [(ts, data) for ts, data, _ in direct]


def test_source_bars_fold_their_own_high_and_low_not_just_the_close():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    agg.add_event(
        T0, {"AAA": {"open": 10.0, "high": 15.0, "low": 9.0, "close": 11.0, "volume": 5.0}}
    )
    agg.add_event(
        T0 + timedelta(seconds=5),
        {"AAA": {"open": 11.0, "high": 12.0, "low": 7.0, "close": 8.0, "volume": 6.0}},
    )
    ((ts, data, _),) = agg.finish()
    assert data["AAA"] == {"open": 10.0, "high": 15.0, "low": 7.0, "close": 8.0, "volume": 11.0}


def test_out_of_order_ticks_inside_the_current_bar_keep_open_and_close_by_time():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    agg.add_event(T0 + timedelta(seconds=30), {"AAA": {"price": 30.0, "size": 1}})
    agg.add_event(
        T0 + timedelta(seconds=10), {"AAA": {"price": 10.0, "size": 1}}
    )  # earlier: new open
    agg.add_event(T0 + timedelta(seconds=50), {"AAA": {"price": 50.0, "size": 1}})
    agg.add_event(T0 + timedelta(seconds=40), {"AAA": {"price": 40.0, "size": 1}})  # not the close
    ((_, data, _),) = agg.finish()
    assert data["AAA"] == {"open": 10.0, "high": 50.0, "low": 10.0, "close": 50.0, "volume": 4.0}


def test_late_tick_is_counted_and_never_changes_the_emitted_bar():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    agg.add_event(T0, {"AAA": {"price": 10.0, "size": 1}})
    ((_, first, _),) = agg.add_event(
        T0 + timedelta(seconds=61), {"AAA": {"price": 11.0, "size": 1}}
    )
    snapshot = {a: dict(b) for a, b in first.items()}
    assert agg.add_event(T0 + timedelta(seconds=59), {"AAA": {"price": 99.0, "size": 7}}) == []
    assert agg.stats.late == 1
    assert first == snapshot
    ((_, second, _),) = agg.finish()
    assert second["AAA"]["volume"] == 1.0 and second["AAA"]["high"] == 11.0


def test_allowed_lateness_keeps_a_bar_open_for_a_slower_subscription():
    agg = BarAggregator(AggregatorConfig(interval="1min", allowed_lateness=5))
    agg.add_event(
        T0 + timedelta(seconds=55),
        {"AAA": {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}},
    )
    assert agg.add_event(T0 + timedelta(seconds=60), {"AAA": {"price": 2.0, "size": 1}}) == []
    assert agg.add_event(T0 + timedelta(seconds=55), {"BBB": {"price": 3.0, "size": 1}}) == []
    ((_, data, ctx),) = agg.add_event(
        T0 + timedelta(seconds=65), {"AAA": {"price": 2.0, "size": 1}}
    )
    assert set(data) == {"AAA", "BBB"} and agg.stats.late == 0


def test_missing_lists_assets_seen_before_that_had_no_data_in_the_interval():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    agg.add_event(T0, {"AAA": {"price": 1.0, "size": 1}, "BBB": {"price": 2.0, "size": 1}})
    ((_, _, first),) = agg.add_event(T0 + timedelta(seconds=60), {"AAA": {"price": 1.0, "size": 1}})
    ((_, data, second),) = agg.finish()
    assert first["missing"] == [] and second["missing"] == ["BBB"] and set(data) == {"AAA"}


def test_a_late_tick_is_logged_naming_its_bar(caplog):
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    agg.add_event(T0, {"AAA": {"price": 10.0, "size": 1}})
    agg.add_event(T0 + timedelta(seconds=61), {"AAA": {"price": 11.0, "size": 1}})
    with caplog.at_level("WARNING", logger="ml4t_live"):
        agg.add_event(T0 + timedelta(seconds=59), {"AAA": {"price": 99.0, "size": 7}})
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "late tick AAA" in message and "already emitted" in message
