"""While the broker reports itself disconnected, orders are refused (rejected with the reason,
nothing sent); once it reports the connection back, orders flow again and both are counted."""

from __future__ import annotations

from ml4t.backtest import OrderStatus, Strategy
from ml4t_live_sim import SimBroker

from ml4t_live_core.protocols import ConnectionEvent


class DropsAtBar3BackAtBar6(SimBroker):
    def __init__(self) -> None:
        super().__init__()
        self.bars = 0
        self.received: list[str] = []

    async def on_bar(self, timestamp, data):  # type: ignore[no-untyped-def]
        self.bars += 1
        if self.bars == 3:
            self._emit(ConnectionEvent(False, "socket closed"))
        if self.bars == 6:
            self._emit(ConnectionEvent(True, "reconnected"))
        await super().on_bar(timestamp, data)

    async def submit_order(self, order):  # type: ignore[no-untyped-def]
        self.received.append(order.order_id)
        return await super().submit_order(order)


class OrderEveryBar(Strategy):
    def __init__(self) -> None:
        self.orders: list = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.orders.append(broker.submit_order("A000", 1))


async def test_orders_are_refused_while_disconnected_and_flow_after_reconnect(make_runtime, bars):
    strategy, broker = OrderEveryBar(), DropsAtBar3BackAtBar6()
    runtime = make_runtime(strategy, data=bars.head(3 * 8), broker=broker)
    stats = await runtime.engine.run(install_signal_handlers=False)
    refused = [o for o in strategy.orders if o.status is OrderStatus.REJECTED]
    assert [strategy.orders.index(o) + 1 for o in refused] == [3, 4, 5]
    assert all("connection: broker is disconnected" in o.rejection_reason for o in refused)
    assert broker.received == [o.order_id for o in strategy.orders if o not in refused]
    assert stats.disconnects == 1 and stats.reconnects == 1
    assert stats.rejections_by_check == {"connection": 3}
