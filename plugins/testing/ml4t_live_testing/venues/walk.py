"""The bars a demo venue sends: a seeded geometric random walk, one OHLCV bar per asset."""

from __future__ import annotations

import math
import random

Bar = dict[str, float]


def asset_names(count: int) -> list[str]:
    """A000, A001, ... (the names of the sim demo's synthetic feed)."""
    width = max(3, len(str(count - 1)))
    return [f"A{i:0{width}d}" for i in range(count)]


def random_walk(
    assets: list[str], bars: int, seed: int, *, volatility: float = 0.002
) -> list[dict[str, Bar]]:
    """`bars` steps; each step maps every asset to its bar (open = the previous close)."""
    rng = random.Random(seed)
    prices = {a: 100.0 * (1 + 0.1 * rng.random()) for a in assets}
    steps: list[dict[str, Bar]] = []
    for _ in range(bars):
        step: dict[str, Bar] = {}
        for asset in assets:
            open_ = prices[asset]
            close = round(open_ * math.exp(rng.gauss(0.0, volatility)), 2)
            spread = round(abs(rng.gauss(0.0, volatility)) * open_, 2)
            step[asset] = {
                "open": open_,
                "high": max(open_, close) + spread,
                "low": max(min(open_, close) - spread, 0.01),
                "close": close,
                "volume": float(rng.randint(100, 10_000)),
            }
            prices[asset] = close
        steps.append(step)
    return steps
