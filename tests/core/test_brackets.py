"""Bracket orders: children activate when the entry fills and cancel each other (OCO)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from ml4t.backtest import OrderStatus, OrderType, Strategy

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def path(closes: list[tuple[float, float, float, float]]) -> pl.DataFrame:
    rows = [
        {
            "timestamp": T0 + timedelta(minutes=i),
            "asset": "XYZ",
            "open": o,
            "high": h,
            "low": low,
            "close": c,
            "volume": 1000.0,
        }
        for i, (o, h, low, c) in enumerate(closes)
    ]
    return pl.DataFrame(rows)


class Bracket(Strategy):
    def __init__(self) -> None:
        self.orders = None

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.orders is None:
            self.orders = broker.submit_bracket("XYZ", 10, take_profit=105.0, stop_loss=95.0)


async def test_take_profit_fills_and_cancels_the_stop(make_runtime):
    strategy = Bracket()
    data = path(
        [(100, 100, 100, 100), (100, 101, 99, 100), (100, 106, 99, 105), (105, 105, 90, 92)]
    )
    runtime = make_runtime(strategy, data=data)
    await runtime.engine.run(install_signal_handlers=False)
    entry, tp, sl = (runtime.safe._orders[o.order_id] for o in strategy.orders)
    assert entry.status is OrderStatus.FILLED and entry.filled_price == 100
    assert tp.status is OrderStatus.FILLED and tp.filled_price == 105
    assert sl.status is OrderStatus.CANCELLED  # the 90 low on the last bar must not fill it
    assert runtime.safe.ledger.holdings == {}
    assert runtime.safe.pending_view == {}


async def test_children_wait_for_the_entry(make_runtime):
    class LimitBracket(Strategy):
        def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
            if not hasattr(self, "orders"):
                self.orders = broker.submit_bracket(
                    "XYZ",
                    10,
                    take_profit=84.0,
                    stop_loss=70.0,
                    entry_type=OrderType.LIMIT,
                    entry_limit=80.0,
                )

    strategy = LimitBracket()
    # The take-profit level (84) trades, but the entry (limit 80) never fills: nothing may happen.
    data = path([(100, 100, 100, 100), (100, 101, 85, 95), (95, 96, 85, 90)])
    runtime = make_runtime(strategy, data=data)
    await runtime.engine.run(install_signal_handlers=False)
    assert not runtime.safe.fills
    assert all(o.status is OrderStatus.PENDING for o in runtime.safe._orders.values())
