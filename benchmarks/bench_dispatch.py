"""Bar dispatch latency: the feed yields a bar -> the strategy's `on_data` starts, for 1, 50 and
500 assets, through the standard stack (every installed plugin, sim broker, state in memory).

Target: p50 <= 2 x handoff floor (any size) and p99 <= 2 ms at 500 assets.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from harness import handoff_floor, percentiles, report
from ml4t.backtest import Strategy
from ml4t_live_sim import ReplayFeed
from scenarios import bars, compose, quiet

from ml4t_live_core.memory_store import MemoryStateStore

SIZES = {1: 2_000, 50: 1_000, 500: 300}


class StampedFeed(ReplayFeed):
    """A replay that notes the moment each bar leaves the feed."""

    yielded_ns = 0

    async def _iterate(self) -> AsyncIterator[Any]:
        for event in self._events:
            if self._stopped:
                return
            StampedFeed.yielded_ns = time.perf_counter_ns()
            yield event


class Stamper(Strategy):
    def __init__(self) -> None:
        self.samples: list[int] = []

    def on_data(
        self, timestamp: Any, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        self.samples.append(time.perf_counter_ns() - StampedFeed.yielded_ns)


def measure(assets: int, n_bars: int) -> dict[str, float]:
    strategy = Stamper()
    data = bars(assets, n_bars)
    runtime = compose(strategy, data, only=None, store=MemoryStateStore())
    runtime.engine.feed = StampedFeed(data=data)
    asyncio.run(runtime.engine.run(install_signal_handlers=False))
    return percentiles(strategy.samples[10:])  # the first bars warm caches up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    quiet()
    floor = handoff_floor()
    results: dict[str, Any] = {"handoff_floor": floor}
    targets: dict[str, bool] = {}
    for assets, count in SIZES.items():
        latency = measure(assets, max(50, int(count * args.scale)))
        results[f"{assets}_assets"] = latency | {
            "p50_over_handoff_floor": latency["p50_us"] / floor["p50_us"]
        }
        targets[f"{assets}_assets_p50_within_2x_handoff"] = latency["p50_us"] <= 2 * floor["p50_us"]
        if assets == 500:
            targets["500_assets_p99_within_2ms"] = latency["p99_us"] <= 2_000
    report("bar_dispatch", results, targets)


if __name__ == "__main__":
    main()
