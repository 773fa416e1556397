"""Bar aggregator throughput and emission cost, next to floors measured in the same run.

    uv run python benchmarks/bench_aggregator.py [--ticks 1000000] [--repeats 5]

Figures:
- batch_ticks_per_s: `add_batch` on a polars frame of ticks (100 assets, 1-minute bars), the
  path for feeds that receive ticks in blocks; once as one frame, once in 10,000-tick blocks.
- per_event_ticks_per_s: the feed-wrapper path, one `add_event` per tick (pure Python).
- emit_500_assets: one completed bar for 500 assets turned into a feed event (p50 / p99).
Floors: an empty Python loop over the same ticks (what any per-tick Python path pays) and the
strategy-thread handoff (what delivering the emitted bar costs anyway).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from harness import handoff_floor, median_of_runs, percentiles, report
from ml4t_live_aggregator import AggregatorConfig, BarAggregator, add_batch

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


def per_event_rate(events: list[tuple[datetime, dict]]) -> float:
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    start = time.perf_counter()
    for ts, data in events:
        agg.add_event(ts, data)
    agg.finish()
    elapsed = time.perf_counter() - start
    assert agg.stats.ticks == len(events)
    return len(events) / elapsed


def empty_loop_rate(events: list[tuple[datetime, dict]]) -> float:
    start = time.perf_counter()
    for _ts, _data in events:
        pass
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
    events = [
        (ts, {asset: {"price": price, "size": size}})
        for ts, asset, price, size in small.iter_rows()
    ]

    results = {
        "ticks": args.ticks,
        "assets": 100,
        "interval": "1min",
        "batch_ticks_per_s_one_frame": median_of_runs(
            lambda: batch_rate(frame, None), args.repeats
        ),
        "batch_ticks_per_s_10k_blocks": median_of_runs(
            lambda: batch_rate(frame, 10_000), args.repeats
        ),
        "per_event_ticks_per_s": median_of_runs(lambda: per_event_rate(events), args.repeats),
        "floor_empty_python_loop_per_s": median_of_runs(
            lambda: empty_loop_rate(events), args.repeats
        ),
        "emit_500_assets": percentiles(emit_samples(500, 300)),
        "floor_handoff": handoff_floor(),
    }
    targets = {
        "batch >= 1M ticks/s (one frame)": results["batch_ticks_per_s_one_frame"]["median"]
        >= 1_000_000,
        "batch >= 1M ticks/s (10k blocks)": results["batch_ticks_per_s_10k_blocks"]["median"]
        >= 1_000_000,
        "emit 500 assets p50 < 1 ms": results["emit_500_assets"]["p50_us"] < 1_000,
    }
    results["per_event_vs_empty_loop"] = statistics.median(
        [
            results["per_event_ticks_per_s"]["median"]
            / results["floor_empty_python_loop_per_s"]["median"]
        ]
    )
    report("aggregator", results, targets)


if __name__ == "__main__":
    main()
