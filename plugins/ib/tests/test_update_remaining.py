"""A strategy's `update_order(quantity=Q)` means Q more shares (ml4t-backtest's remaining
quantity); IB's modify takes `totalQuantity`, the whole order size, so the runtime sends
filled + Q. Real ib_async client, gateway simulator, SafeBroker in between."""

from __future__ import annotations

import pytest
from ml4t.backtest import OrderSide, OrderStatus, OrderType
from ml4t_live_ib.broker import IBBroker

from ml4t_live_core.clock import ManualClock
from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import new_plugin_manager
from ml4t_live_core.safety import SafeBroker
from ml4t_live_core.state import JournalEvent

from .conftest import fast_config, settle, wait_until


@pytest.fixture
async def runtime(ib_gateway):
    broker = IBBroker(fast_config(ib_gateway.port), clock=ManualClock())
    store = MemoryStateStore()
    safe = SafeBroker(
        broker,
        hooks=new_plugin_manager().hook,
        runtime=RuntimeConfig(strategy_id="ib-update"),
        clock=ManualClock(),
        store=store,
    )
    await safe.start()
    try:
        yield safe, broker, store
    finally:
        await safe.stop()


async def test_partially_filled_order_updated_with_a_remaining_quantity(ib_gateway, runtime):
    safe, broker, store = runtime
    order = await safe.submit_order(
        "AAPL", 100, OrderSide.BUY, OrderType.LIMIT, limit_price=101.5
    )
    ib_gateway.fill(order.order_id, 40, price=101.0)
    ib_gateway.set_price("AAPL", 102.0)  # then above the buy limit: the rest waits
    await wait_until(lambda: safe._orders[order.order_id].filled_quantity == 40)

    assert await safe.update_order(order.order_id, quantity=30)  # 30 more, not 30 in all
    await settle(broker)
    at_ib = ib_gateway.order(order.order_id)
    assert (at_ib.quantity, at_ib.filled) == (70.0, 40.0)  # totalQuantity = filled + remaining
    assert ib_gateway.placed[-1].modify
    assert safe.pending_quantity("AAPL", OrderSide.BUY) == 30.0

    ib_gateway.set_price("AAPL", 101.2)  # crosses the limit: the rest fills
    await wait_until(lambda: safe._orders[order.order_id].status is OrderStatus.FILLED)
    fills = [f for f in safe.fills if f.order_id == order.order_id]
    assert [(f.quantity, f.price) for f in fills] == [(40.0, 101.0), (30.0, 101.2)]
    assert safe._orders[order.order_id].filled_quantity == 70.0
    assert ib_gateway.order(order.order_id).filled == 70.0
    assert (await broker.get_positions())["AAPL"].quantity == 70.0

    [modified] = [
        r for r in await store.read_journal() if r.event is JournalEvent.MODIFIED
    ]
    assert modified.quantity == 70.0  # the record's quantity is the order's new total
    assert modified.detail == {
        "update": {"remaining_quantity": 30},
        "filled_quantity": 40.0,
        "remaining_quantity": 30.0,
        "total_quantity": 70.0,
    }
