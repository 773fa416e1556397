"""Soak: a trading day of 1-minute bars (390) for 500 assets replayed at full speed, with orders
every bar, through the standard stack (every installed check, sim broker, JSON state store).

Target: memory after the day within 10% of memory after the first hour (no growth per order or
per bar). Memory is the Python heap traced by tracemalloc (exact, not disturbed by the
allocator keeping freed pages) and, for reference, the process RSS.

The runtime keeps the most recent `[runtime] history_limit` finished orders, fills and
rejections (default 10,000). The day sends 3,120 orders, so by default the soak runs with a
limit of 400, below the 480 orders of the first hour: the day then measures the steady state a
weeks-long process reaches once its history is full. `--history-limit 10000` measures the cost of
filling the default history instead (bytes per order × limit = the history's full size).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
import tracemalloc
from typing import Any

import psutil
from harness import report
from ml4t.backtest import Strategy
from scenarios import bars, compose, quiet


class Churn(Strategy):
    """Every bar: buy 1 share of four assets and sell 1 of four others, round-robin; memory is
    sampled after bar 60 (the first hour) and after the last bar."""

    def __init__(self, total_bars: int) -> None:
        self.total_bars, self.bars, self.orders = total_bars, 0, 0
        self.samples: dict[str, dict[str, float]] = {}

    def on_data(
        self, timestamp: Any, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        self.bars += 1
        assets = sorted(data)
        for k in range(8):
            asset = assets[(self.bars * 8 + k) % len(assets)]
            broker.submit_order(asset, 1 if k % 2 == 0 else -1)
            self.orders += 1
        if self.bars in (60, self.total_bars):
            self.samples["first_hour" if self.bars == 60 else "end_of_day"] = sample(
                self.bars, self.orders
            )


def sample(bars: int, orders: int) -> dict[str, float]:
    gc.collect()
    return {
        "bars": bars,
        "orders": orders,
        "traced_mb": tracemalloc.get_traced_memory()[0] / 2**20,
        "rss_mb": psutil.Process().memory_info().rss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--bars", type=int, default=390)
    parser.add_argument("--history-limit", type=int, default=400)
    args = parser.parse_args()
    quiet()
    data = bars(args.assets, args.bars)
    strategy = Churn(args.bars)
    with tempfile.TemporaryDirectory(prefix="ml4t-bench-soak-") as state_dir:
        runtime = compose(
            strategy,
            data,
            only=None,
            overrides={
                "state": {"use": "json", "json": {"directory": state_dir}},
                "runtime": {"history_limit": args.history_limit},
            },
        )
        tracemalloc.start()
        start = time.perf_counter()
        stats = asyncio.run(runtime.engine.run(install_signal_handlers=False))
        elapsed = time.perf_counter() - start
        tracemalloc.stop()
    first, end = strategy.samples["first_hour"], strategy.samples["end_of_day"]
    growth = end["traced_mb"] / first["traced_mb"]
    results = {
        "assets": args.assets,
        "bars": stats.bars,
        "orders": strategy.orders,
        "history_limit": args.history_limit,
        "history_sizes": runtime.safe.history.sizes(),
        "fills": stats.fills,
        "seconds": elapsed,
        "first_hour": first,
        "end_of_day": end,
        "traced_growth_ratio": growth,
        "rss_growth_ratio": end["rss_mb"] / first["rss_mb"],
        "traced_bytes_per_order_after_first_hour": (end["traced_mb"] - first["traced_mb"])
        * 2**20
        / max(1, end["orders"] - first["orders"]),
    }
    report("soak", results, {"memory_within_10pct_of_first_hour": growth <= 1.10})


if __name__ == "__main__":
    main()
