"""Order latency: the strategy's `submit_order` call to its return, in shadow mode with every
installed risk check and the default JSON state store (durable: the journal is fsync'd before
an order is sent), over 10,000 orders.

Targets: p50 <= 1.3 x (handoff floor + fsync floor), p99 <= 3 x the same sum, and no growth
with history: p50 of the last 1,000 orders within 1.2 x the p50 of the first 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

from harness import fsync_floor, handoff_floor, percentiles, report
from ml4t.backtest import Strategy
from scenarios import bars, compose, quiet

from ml4t_live_core.plugins import Kind


class Timed(Strategy):
    """Sends `per_bar` 1-to-9-share orders per bar across the assets, timing each call."""

    def __init__(self, orders: int, per_bar: int) -> None:
        self.remaining, self.per_bar = orders, per_bar
        self.samples: list[int] = []
        self.statuses: dict[str, int] = {}
        self.sent = 0

    def on_data(
        self, timestamp: Any, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        assets = sorted(data)
        for _ in range(min(self.per_bar, self.remaining)):
            self.sent += 1
            asset = assets[self.sent % len(assets)]
            quantity = (self.sent % 9 + 1) * (1 if (self.sent // len(assets)) % 2 == 0 else -1)
            start = time.perf_counter_ns()
            order = broker.submit_order(asset, quantity)
            self.samples.append(time.perf_counter_ns() - start)
            self.statuses[order.status.value] = self.statuses.get(order.status.value, 0) + 1
            self.remaining -= 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--per-bar", type=int, default=20)
    args = parser.parse_args()
    quiet()
    with tempfile.TemporaryDirectory(prefix="ml4t-bench-state-") as state_dir:
        floors = {"handoff_floor": handoff_floor(), "fsync_floor": fsync_floor(state_dir)}
        strategy = Timed(args.orders, args.per_bar)
        data = bars(50, args.orders // args.per_bar + 5)
        runtime = compose(
            strategy,
            data,
            only=None,
            overrides={
                "runtime": {"shadow": True},
                "state": {"use": "json", "json": {"directory": state_dir}},
            },
        )
        assert runtime.store is not None and runtime.store.backend == "json", (
            "the JSON state store is not installed"
        )
        checks = runtime.plugins.registry.names(Kind.RISK_CHECK)
        asyncio.run(runtime.engine.run(install_signal_handlers=False))
        # The disk is shared and its latency drifts: the floor is the mean of before and after.
        after = fsync_floor(state_dir)
        floors["fsync_floor_after"] = after
        floors["fsync_floor"] = floors["fsync_floor"] | {
            "p50_us": (floors["fsync_floor"]["p50_us"] + after["p50_us"]) / 2,
            "p50_us_before": floors["fsync_floor"]["p50_us"],
        }
    samples = strategy.samples
    overall, first, last = (
        percentiles(samples),
        percentiles(samples[:1000]),
        percentiles(samples[-1000:]),
    )
    budget = floors["handoff_floor"]["p50_us"] + floors["fsync_floor"]["p50_us"]
    results = floors | {
        "risk_checks": checks,
        "orders": len(samples),
        "statuses": strategy.statuses,
        "latency": overall,
        "first_1000": first,
        "last_1000": last,
        "floor_sum_p50_us": budget,
        "p50_over_floor_sum": overall["p50_us"] / budget,
        "p99_over_floor_sum": overall["p99_us"] / budget,
        "last_over_first_p50": last["p50_us"] / first["p50_us"],
    }
    targets = {
        "p50_within_1.3x_floor_sum": overall["p50_us"] <= 1.3 * budget,
        "p99_within_3x_floor_sum": overall["p99_us"] <= 3 * budget,
        "no_growth_last_vs_first_1000_within_1.2x": last["p50_us"] <= 1.2 * first["p50_us"],
        "all_orders_accepted": strategy.statuses.get("rejected", 0) == 0,
    }
    report("order_latency", results, targets)


if __name__ == "__main__":
    main()
