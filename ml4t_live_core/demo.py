"""`ml4t-live demo`: a momentum-rotation strategy on synthetic minute bars through the whole
stack (engine, wrapper, SafeBroker with every installed risk check, sim broker, state store)."""

from __future__ import annotations

import tempfile
from collections import defaultdict, deque
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from ml4t.backtest import OrderType, RebalanceConfig, Strategy, TargetWeightExecutor


class MomentumRotation(Strategy):
    """Every `every` bars, hold the `top` assets with the best momentum, equal weight.

    Written only against ml4t-backtest: it runs unchanged in `run_backtest`.
    """

    def __init__(self, lookback: int = 30, every: int = 30, top: int = 3, weight: float = 0.3):
        self.lookback, self.every, self.top, self.weight = lookback, every, top, weight
        self.executor = TargetWeightExecutor(RebalanceConfig(min_trade_value=100.0))
        self.closes: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=lookback + 1))
        self.bars = 0
        self.fat_finger_sent = False

    def on_data(
        self, timestamp: datetime, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        self.bars += 1
        for asset, bar in data.items():
            self.closes[asset].append(bar["close"])
        if self.bars == self.lookback + 5 and not self.fat_finger_sent:
            # A typo'd limit price, 10x the market: the price collar must stop it.
            self.fat_finger_sent = True
            asset = next(iter(data))
            broker.submit_order(
                asset, 10, order_type=OrderType.LIMIT, limit_price=data[asset]["close"] * 10
            )
        if self.bars % self.every:
            return
        momentum = {a: c[-1] / c[0] - 1.0 for a, c in self.closes.items() if len(c) > self.lookback}
        leaders = sorted(momentum, key=momentum.__getitem__, reverse=True)[: self.top]
        self.executor.execute({a: self.weight for a in leaders}, data, broker)

    def on_end(self, broker: Any) -> None:
        for order in broker.get_pending_orders():
            broker.cancel_order(order.order_id)


def demo_overrides(
    assets: int,
    bars: int,
    shadow: bool,
    *,
    installed_checks: AbstractSet[str],
    installed_stores: AbstractSet[str],
    installed_observers: AbstractSet[str] = frozenset(),
    state_dir: str | None = None,
    accelerated: bool = False,
) -> dict[str, Any]:
    """The demo's configuration, as the dict a TOML file would parse to (limited to what is
    installed, so the demo runs with the core and the sim plugin alone).

    `accelerated`: bars arrive milliseconds apart on the wall clock (a simulated venue), so
    checks that measure real time are scaled to it."""
    state_dir = state_dir or tempfile.mkdtemp(prefix="ml4t-live-demo-")
    config: dict[str, Any] = {
        "runtime": {"shadow": shadow, "strategy_id": "demo", "on_error": "halt"},
        "broker": {"use": "sim", "sim": {"initial_cash": 100_000.0, "commission_per_share": 0.005}},
        "feed": {"use": "synthetic", "synthetic": {"assets": assets, "bars": bars, "seed": 11}},
        "state": {"json": {"directory": state_dir}},
        "risk": {
            "order-size": {"max_value": 31_000.0},
            "price-collar": {"max_deviation_pct": 5.0},
        },
    }
    if accelerated:  # rebalances come ms apart: a 2 s window would call the next one a duplicate
        config["risk"]["duplicate"] = {"window_seconds": 0.001}
    config["risk"] = {
        name: body for name, body in config["risk"].items() if name in installed_checks
    }
    if (
        "prometheus" in installed_observers
    ):  # a free port: a demo must not collide with a running engine
        config["observers"] = {"prometheus": {"port": 0}}
    if "json" in installed_stores:
        config["state"] = {"use": "json", "json": {"directory": state_dir}}
    else:
        del config["state"]
    return config
