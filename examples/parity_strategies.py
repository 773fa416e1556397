"""Strategies written only against ml4t-backtest, used to check backtest/live parity:

    uv run ml4t-live parity examples/parity_strategies.py:LimitCrossover --data bars.parquet

Each class is constructible without arguments (the parity command needs that) and trades
whatever assets the data holds.
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime
from typing import Any

from ml4t.backtest import OrderType, RebalanceConfig, Strategy, TargetWeightExecutor
from ml4t.backtest.example_data import ExampleRoundTrip


class RoundTrip(ExampleRoundTrip):
    """ml4t-backtest's bundled ExampleRoundTrip on the first asset it sees, 100 shares."""

    def __init__(self) -> None:
        super().__init__(asset="", quantity=100)

    def on_data(
        self, timestamp: datetime, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        if not self.asset:
            self.asset = min(data)
        super().on_data(timestamp, data, context, broker)


class WeightRebalancer(Strategy):
    """Every `every` bars, TargetWeightExecutor to equal weights on the assets whose last bar
    rose (all assets when none did): sells, buys and resizes through the executor."""

    def __init__(self, every: int = 7, gross: float = 0.9) -> None:
        self.every, self.gross = every, gross
        self.executor = TargetWeightExecutor(RebalanceConfig(min_trade_value=50.0))
        self.bars = 0

    def on_data(
        self, timestamp: datetime, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        self.bars += 1
        if self.bars % self.every:
            return
        rising = sorted(a for a, bar in data.items() if bar["close"] > bar["open"]) or sorted(data)
        self.executor.execute({a: self.gross / len(rising) for a in rising}, data, broker)


class LimitCrossover(Strategy):
    """Moving-average crossover per asset, entered with a limit a little under the close and
    protected by a stop; exits with a limit a little over the close. Stale limits are cancelled."""

    def __init__(
        self,
        fast: int = 3,
        slow: int = 8,
        shares: int = 40,
        offset: float = 0.0002,
        stop: float = 0.01,
    ) -> None:
        self.fast, self.slow, self.shares, self.offset, self.stop = fast, slow, shares, offset, stop
        self.closes: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=slow))
        self.above: dict[str, bool] = {}

    def on_data(
        self, timestamp: datetime, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        for asset in sorted(data):
            close = data[asset]["close"]
            history = self.closes[asset]
            history.append(close)
            if len(history) < self.slow:
                continue
            fast = sum(list(history)[-self.fast :]) / self.fast
            slow = sum(history) / self.slow
            above, was_above = fast > slow, self.above.get(asset)
            self.above[asset] = above
            if was_above is None or above == was_above:
                continue
            for order in broker.get_pending_orders(asset):
                broker.cancel_order(order.order_id)
            position = broker.get_position(asset)
            held = position.quantity if position is not None else 0.0
            if above and held <= 0:
                broker.submit_order(
                    asset,
                    self.shares,
                    order_type=OrderType.LIMIT,
                    limit_price=round(close * (1 - self.offset), 4),
                )
                broker.submit_order(
                    asset,
                    -self.shares,
                    order_type=OrderType.STOP,
                    stop_price=round(close * (1 - self.stop), 4),
                )
            elif not above and held > 0:
                broker.submit_order(
                    asset,
                    -held,
                    order_type=OrderType.LIMIT,
                    limit_price=round(close * (1 + self.offset), 4),
                )


class TargetPercent(Strategy):
    """order_target_percent: rotate 45% into the best and 0% out of the worst performer of the
    last `lookback` bars, every `every` bars."""

    def __init__(self, lookback: int = 5, every: int = 5) -> None:
        self.lookback, self.every = lookback, every
        self.closes: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=lookback + 1))
        self.bars = 0

    def on_data(
        self, timestamp: datetime, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        self.bars += 1
        for asset, bar in data.items():
            self.closes[asset].append(bar["close"])
        if self.bars % self.every or self.bars <= self.lookback:
            return
        ranked = sorted(data, key=lambda a: (self.closes[a][-1] / self.closes[a][0], a))
        for asset in ranked:
            target = 0.45 if asset == ranked[-1] else (0.0 if asset == ranked[0] else 0.2)
            broker.order_target_percent(asset, target)
