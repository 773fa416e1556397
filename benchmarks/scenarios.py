"""What the live-runtime benchmarks share: seeded bars, trivial strategies, composed runtimes."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import polars as pl
from ml4t.backtest import Strategy
from ml4t_live_sim import ReplayFeed, SyntheticConfig
from ml4t_live_sim.feeds import synthetic_bars

from ml4t_live_core.compose import Runtime, build
from ml4t_live_core.plugins import LOAD_ENV_VAR, Kind, Plugins, load_plugins

#: Limits far above what the benchmarks send, so every check runs its full logic and passes.
GENEROUS: dict[str, dict[str, Any]] = {
    "rate-limit": {"max_orders": 10_000_000, "per_seconds": 1.0},
    "duplicate": {"window_seconds": 0.001},
    "order-size": {"max_shares": 1e9, "max_value": 1e12},
    "position-size": {"max_shares": 1e9, "max_value": 1e12},
    "exposure": {"max_gross": 1e13, "max_net": 1e13},
    "max-positions": {"max_positions": 100_000},
    "price-collar": {"max_deviation_pct": 50.0},
    "daily-loss": {"max_pct": 99.0},
    "drawdown": {"max_pct": 99.0},
    "stale-data": {"max_age_seconds": 86_400},
}


def bars(assets: int, count: int, *, seed: int = 7, interval_seconds: int = 60) -> pl.DataFrame:
    return synthetic_bars(
        SyntheticConfig(assets=assets, bars=count, seed=seed, interval_seconds=interval_seconds)
    )


def quiet() -> None:
    """Start-up warnings (no checks, no state) are expected here; keep the JSON output clean."""
    logging.getLogger("ml4t_live").setLevel(logging.ERROR)


def risk_overrides(plugins: Plugins) -> dict[str, dict[str, Any]]:
    """GENEROUS, restricted to the checks installed and the keys their schemas know."""
    out: dict[str, dict[str, Any]] = {}
    for reg in plugins.registry.all(Kind.RISK_CHECK):
        wanted = GENEROUS.get(reg.name, {})
        fields = set(reg.config.model_fields) if reg.config is not None else set()
        out[reg.name] = {k: v for k, v in wanted.items() if k in fields}
    return out


def compose(
    strategy: Strategy,
    data: pl.DataFrame,
    *,
    only: str | None = "sim",
    overrides: Mapping[str, Any] | None = None,
    store: Any = None,
) -> Runtime:
    """A runtime over a replay of `data`: only the sim plugin unless only=None (everything)."""
    previous = os.environ.get(LOAD_ENV_VAR)
    if only is None:
        os.environ.pop(LOAD_ENV_VAR, None)
    else:
        os.environ[LOAD_ENV_VAR] = only
    try:
        plugins = load_plugins()
        merged: dict[str, Any] = {"runtime": {"strategy_id": "bench", "timezone": "UTC"}}
        if only is None:
            merged["risk"] = risk_overrides(plugins)
            if "prometheus" in plugins.registry.names(Kind.OBSERVER):
                # a free port: concurrent benchmark runs on this machine must not collide
                merged["observers"] = {"prometheus": {"port": 0}}
        for key, value in (overrides or {}).items():
            merged[key] = {**merged.get(key, {}), **value}
        kwargs: dict[str, Any] = {"feed": ReplayFeed(data=data)}
        if store is not None:
            kwargs["store"] = store
        return build(strategy, None, overrides=merged, **kwargs)
    finally:
        if previous is None:
            os.environ.pop(LOAD_ENV_VAR, None)
        else:
            os.environ[LOAD_ENV_VAR] = previous


class EveryTenthBar(Strategy):
    """The throughput strategy: one 1-share market order every 10th bar, alternating sides."""

    def __init__(self) -> None:
        self.bars = 0

    def on_data(
        self, timestamp: Any, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        self.bars += 1
        if self.bars % 10 == 0:
            asset = next(iter(data))
            broker.submit_order(asset, 1 if self.bars % 20 else -1)
