"""Bar aggregator throughput and emission cost, next to floors measured in the same run.

    uv run python benchmarks/bench_aggregator.py [--ticks 1000000] [--repeats 5]

Figures:
- batch_ticks_per_s: `add_batch` on a polars frame of ticks (100 assets, 1-minute bars), the
  path for feeds that receive ticks in blocks; once as one frame, once in 10,000-tick blocks.
- per_event_ticks_per_s: one `add_event` per tick (pure Python): what the feed wrapper does for
  a live tick feed; `_live` with `now` (clock-skew guard, the clock read per event, as live
  feeds do; ticks in datetime.UTC like ib_async's and alpaca-py's); `_list` in Alpaca's shape
  (a list of ticks with their own timestamps).
- per_event_reference_path: the same ticks through full validation (`parse`), `add_piece` and
  `due()` one by one -- what every tick cost before the fast path; the ratio is the speed-up.
- add_ticks_ticks_per_s: `add_ticks` on blocks of 10 / 100 tick tuples.
- feed_wrapper_ticks_per_s: `AggregatingFeed` end to end around a replay feed of one tick per
  event, bars consumed as they come (asyncio included); `_live`: the inner feed is realtime,
  the clock follows the ticks and the stuck-bar timer runs.
- emit_500_assets: one completed bar for 500 assets turned into a feed event (p50 / p99).
Floors: an empty Python loop over the same ticks, an empty method call per tick (what any
per-tick Python path pays) and the strategy-thread handoff (what delivering a bar costs anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from harness import handoff_floor, median_of_runs, percentiles, report
from ml4t_live_aggregator import AggregatingFeed, AggregatorConfig, BarAggregator, add_batch
from ml4t_live_aggregator.inputs import parse

from ml4t_live_core.clock import ManualClock, SystemClock

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def tick_frame(n: int, assets: int, seconds: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    offsets_ns = np.sort(rng.integers(0, seconds * 1_000_000_000, n))
    return pl.DataFrame(
        {
            "timestamp": pl.Series(offsets_ns + int(T0.timestamp()) * 1_000_000_000).cast(
                pl.Datetime("ns", "UTC")
            ),
            "asset": pl.Series([f"A{i:03d}" for i in rng.integers(0, assets, n)]),
            "price": 100 + rng.standard_normal(n).cumsum() * 0.01,
            "size": rng.integers(1, 500, n).astype(np.float64),
        }
    )


def batch_rate(frame: pl.DataFrame, block: int | None) -> float:
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    blocks = (
        [frame] if block is None else [frame.slice(i, block) for i in range(0, frame.height, block)]
    )
    start = time.perf_counter()
    bars = 0
    for part in blocks:
        bars += len(add_batch(agg, part))
    bars += len(agg.finish())
    elapsed = time.perf_counter() - start
    assert agg.stats.ticks == frame.height and bars > 0
    return frame.height / elapsed


def per_event_rate(events: list[tuple[datetime, dict]], live: bool = False) -> float:
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    now = SystemClock().now
    start = time.perf_counter()
    if live:
        for ts, data in events:
            agg.add_event(ts, data, now())
    else:
        for ts, data in events:
            agg.add_event(ts, data)
    agg.finish()
    elapsed = time.perf_counter() - start
    assert agg.stats.ticks == len(events) and agg.stats.rejected == 0
    return len(events) / elapsed


def reference_path_rate(events: list[tuple[datetime, dict]]) -> float:
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    start = time.perf_counter()
    for ts, data in events:
        for asset, item in data.items():
            agg.add_piece(parse(ts, asset, item))
        agg.due()
    agg.finish()
    elapsed = time.perf_counter() - start
    assert agg.stats.ticks == len(events)
    return len(events) / elapsed


def add_ticks_rate(rows: list[tuple], block: int) -> float:
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    blocks = [rows[i : i + block] for i in range(0, len(rows), block)]
    start = time.perf_counter()
    for part in blocks:
        agg.add_ticks(part)
    agg.finish()
    elapsed = time.perf_counter() - start
    assert agg.stats.ticks == len(rows)
    return len(rows) / elapsed


class ReplayFeed:
    """An inner feed handing over prepared events (one tick each). With a clock it plays a live
    feed: realtime, the clock standing at each tick's time (so the flush timer runs for real)."""

    def __init__(self, events: list[tuple[datetime, dict]], clock: ManualClock | None = None):
        self.events = events
        self.clock = clock
        self.realtime = clock is not None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def __aiter__(self):
        context: dict = {}
        clock = self.clock
        for ts, data in self.events:
            if clock is not None:
                clock.set(ts)
            yield ts, data, context


def feed_rate(events: list[tuple[datetime, dict]], live: bool = False) -> float:
    async def run() -> float:
        clock = ManualClock(events[0][0]) if live else None
        feed = AggregatingFeed(
            AggregatorConfig(interval="1min"), ReplayFeed(events, clock), clock=clock
        )
        start = time.perf_counter()
        await feed.start()
        bars = [bar async for bar in feed]
        elapsed = time.perf_counter() - start
        await feed.stop()
        assert bars and feed.stats.ticks == len(events) and feed.stats.rejected == 0
        return len(events) / elapsed

    return asyncio.run(run())


def empty_loop_rate(events: list[tuple[datetime, dict]]) -> float:
    start = time.perf_counter()
    for _ts, _data in events:
        pass
    return len(events) / (time.perf_counter() - start)


class _Nothing:
    def add_event(self, timestamp: datetime, data: dict) -> list:
        return []


def empty_call_rate(events: list[tuple[datetime, dict]]) -> float:
    add = _Nothing().add_event
    start = time.perf_counter()
    for ts, data in events:
        add(ts, data)
    return len(events) / (time.perf_counter() - start)


def emit_samples(assets: int, n: int) -> list[int]:
    samples = []
    later = T0 + timedelta(hours=1)
    for _ in range(n):
        agg = BarAggregator(AggregatorConfig(interval="1min"))
        agg.add_event(T0, {f"A{i:03d}": {"price": 100.0 + i, "size": 1.0} for i in range(assets)})
        start = time.perf_counter_ns()
        (event,) = agg.poll(later)
        samples.append(time.perf_counter_ns() - start)
        assert len(event[1]) == assets
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--per-event-ticks", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    frame = tick_frame(args.ticks, assets=100, seconds=600)
    small = frame.head(args.per_event_ticks)
    rows = list(small.iter_rows())
    events = [(ts, {asset: {"price": price, "size": size}}) for ts, asset, price, size in rows]
    lists = [
        (ts, {asset: [{"price": price, "size": size, "timestamp": ts}]})
        for ts, asset, price, size in rows
    ]
    # Live tick feeds (ib_async, alpaca-py) stamp ticks in datetime.UTC, the clock's zone; polars
    # hands out ZoneInfo("UTC"), a different tzinfo object (see the aggregator README).
    utc_events = [(ts.astimezone(UTC), data) for ts, data in events]
    runs = args.repeats

    results = {
        "ticks": args.ticks,
        "per_event_ticks": len(events),
        "assets": 100,
        "interval": "1min",
        "batch_ticks_per_s_one_frame": median_of_runs(lambda: batch_rate(frame, None), runs),
        "batch_ticks_per_s_10k_blocks": median_of_runs(lambda: batch_rate(frame, 10_000), runs),
        "per_event_ticks_per_s": median_of_runs(lambda: per_event_rate(events), runs),
        "per_event_ticks_per_s_live": median_of_runs(
            lambda: per_event_rate(utc_events, True), runs
        ),
        "per_event_ticks_per_s_list": median_of_runs(lambda: per_event_rate(lists), runs),
        "per_event_reference_path": median_of_runs(lambda: reference_path_rate(events), runs),
        "add_ticks_ticks_per_s_10": median_of_runs(lambda: add_ticks_rate(rows, 10), runs),
        "add_ticks_ticks_per_s_100": median_of_runs(lambda: add_ticks_rate(rows, 100), runs),
        "feed_wrapper_ticks_per_s": median_of_runs(lambda: feed_rate(events), runs),
        "feed_wrapper_ticks_per_s_live": median_of_runs(lambda: feed_rate(utc_events, True), runs),
        "floor_empty_python_loop_per_s": median_of_runs(lambda: empty_loop_rate(events), runs),
        "floor_empty_call_per_s": median_of_runs(lambda: empty_call_rate(events), runs),
        "emit_500_assets": percentiles(emit_samples(500, 300)),
        "floor_handoff": handoff_floor(),
    }
    median = {k: v["median"] for k, v in results.items() if isinstance(v, dict) and "median" in v}
    targets = {
        "batch >= 1M ticks/s (one frame)": median["batch_ticks_per_s_one_frame"] >= 1_000_000,
        "batch >= 1M ticks/s (10k blocks)": median["batch_ticks_per_s_10k_blocks"] >= 1_000_000,
        "per event >= 1M ticks/s": median["per_event_ticks_per_s"] >= 1_000_000,
        "add_ticks (100) >= 1M ticks/s": median["add_ticks_ticks_per_s_100"] >= 1_000_000,
        "emit 500 assets p50 < 1 ms": results["emit_500_assets"]["p50_us"] < 1_000,
    }
    # Same-run ratios: the machine is shared, absolute rates move with its load.
    results["ratios"] = {
        "per_event_vs_reference_path": median["per_event_ticks_per_s"]
        / median["per_event_reference_path"],
        "per_event_vs_empty_call": median["per_event_ticks_per_s"]
        / median["floor_empty_call_per_s"],
        "add_ticks_100_vs_per_event": median["add_ticks_ticks_per_s_100"]
        / median["per_event_ticks_per_s"],
        "feed_wrapper_vs_per_event": median["feed_wrapper_ticks_per_s"]
        / median["per_event_ticks_per_s"],
    }
    report("aggregator", results, targets)


if __name__ == "__main__":
    main()
