"""Replay throughput: bars/s through replay feed + LiveEngine + SafeBroker + sim broker, next to
ml4t-backtest's `run_backtest` on the same bars and strategy, for 1, 50 and 500 assets.

Target: live >= backtest at every size, and >= 2x at 500 assets. A "bar" is one timestamp
(all assets' bars for it): what `on_data` is called with.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from harness import handoff_floor, median_of_runs, report
from ml4t.backtest import run_backtest
from ml4t_live_sim import SimBrokerConfig
from scenarios import EveryTenthBar, bars, compose, quiet

SIZES = {1: 3_000, 50: 1_000, 500: 200}


def live_rate(data, n_bars: int) -> float:  # type: ignore[no-untyped-def]
    runtime = compose(EveryTenthBar(), data)
    start = time.perf_counter()
    stats = asyncio.run(runtime.engine.run(install_signal_handlers=False))
    elapsed = time.perf_counter() - start
    assert stats.bars == n_bars, (stats.bars, n_bars)
    return n_bars / elapsed


def backtest_rate(data, n_bars: int) -> float:  # type: ignore[no-untyped-def]
    config = SimBrokerConfig().backtest_config()
    start = time.perf_counter()
    run_backtest(data, EveryTenthBar(), config=config)
    return n_bars / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the bar counts")
    args = parser.parse_args()
    quiet()
    results: dict[str, object] = {"handoff_floor": handoff_floor()}
    targets: dict[str, bool] = {}
    for assets, count in SIZES.items():
        n_bars = max(20, int(count * args.scale))
        data = bars(assets, n_bars)
        live = median_of_runs(lambda d=data, n=n_bars: live_rate(d, n), args.repeats)
        backtest = median_of_runs(lambda d=data, n=n_bars: backtest_rate(d, n), args.repeats)
        ratio = live["median"] / backtest["median"]
        results[f"{assets}_assets"] = {
            "bars": n_bars,
            "live_bars_per_s": live,
            "backtest_bars_per_s": backtest,
            "live_asset_bars_per_s": live["median"] * assets,
            "ratio_live_to_backtest": ratio,
        }
        targets[f"{assets}_assets_live_at_least_backtest"] = ratio >= 1.0
        if assets == 500:
            targets["500_assets_live_at_least_2x_backtest"] = ratio >= 2.0
    report("replay_throughput", results, targets)


if __name__ == "__main__":
    main()
