"""A strategy's `update_order(quantity=Q)` means Q more shares (ml4t-backtest's remaining
quantity). Alpaca replaces an order with a fresh one that fills from zero, so the runtime's new
total (filled + Q) reaches Alpaca as `qty` = Q. Real alpaca-py clients, simulator, SafeBroker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from ml4t.backtest import OrderSide, OrderStatus, OrderType
from ml4t_live_alpaca import AlpacaBroker
from ml4t_live_testing.alpaca import AlpacaSimulator

from ml4t_live_core.clock import ManualClock
from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import new_plugin_manager
from ml4t_live_core.safety import SafeBroker
from ml4t_live_core.state import JournalEvent

from .conftest import wait_until


@pytest.fixture
async def runtime(
    alpaca_sim_manual: AlpacaSimulator, make_broker: Callable[..., AlpacaBroker]
) -> AsyncIterator[tuple[SafeBroker, AlpacaSimulator, MemoryStateStore]]:
    store = MemoryStateStore()
    safe = SafeBroker(
        make_broker(alpaca_sim_manual),
        hooks=new_plugin_manager().hook,
        runtime=RuntimeConfig(strategy_id="alpaca-update"),
        clock=ManualClock(),
        store=store,
    )
    await safe.start()
    try:
        yield safe, alpaca_sim_manual, store
    finally:
        await safe.stop()


async def _buy_100_with_40_filled(safe: SafeBroker, sim: AlpacaSimulator) -> Any:
    sim.set_price("AAPL", 100.0)
    order = await safe.submit_order("AAPL", 100, OrderSide.BUY, OrderType.LIMIT, limit_price=90.0)
    sim.partial_fill(order.order_id, 40, price=90.0)
    await wait_until(lambda: safe._orders[order.order_id].filled_quantity == 40, what="40 filled")
    return safe._orders[order.order_id]


async def test_partially_filled_order_updated_with_a_remaining_quantity(runtime):
    safe, sim, store = runtime
    order = await _buy_100_with_40_filled(safe, sim)

    assert await safe.update_order(order.order_id, quantity=30)  # 30 more, not 30 in all
    [replacement] = sim.open_orders()
    assert (replacement["client_order_id"], replacement["qty"]) == (f"{order.order_id}.r1", "30.0")
    [replaced] = sim.orders(order.order_id)
    assert (replaced["status"], replaced["filled_qty"]) == ("replaced", "40.0")
    assert (order.quantity, order.filled_quantity) == (70.0, 40.0)

    sim.fill(f"{order.order_id}.r1", price=89.5)
    await wait_until(lambda: order.status is OrderStatus.FILLED, what="the rest filled")
    assert [(f.quantity, f.price) for f in safe.fills] == [(40.0, 90.0), (30.0, 89.5)]
    assert order.filled_quantity == 70.0
    assert sim.positions() == {"AAPL": 70.0}  # the venue's total is the runtime's total

    [modified] = [r for r in await store.read_journal() if r.event is JournalEvent.MODIFIED]
    assert modified.quantity == 70.0
    assert modified.detail["remaining_quantity"] == 30.0
    assert modified.detail["total_quantity"] == 70.0


async def test_price_change_of_a_partially_filled_order_does_not_refill_its_fills(runtime):
    safe, sim, _ = runtime
    order = await _buy_100_with_40_filled(safe, sim)

    # Without a qty Alpaca's replacement would be for the original 100 (Alpaca-API#165)
    assert await safe.update_order(order.order_id, limit_price=91.0)
    [replacement] = sim.open_orders()
    assert (replacement["qty"], replacement["limit_price"]) == ("60.0", "91.0")

    sim.fill(f"{order.order_id}.r1")
    await wait_until(lambda: order.status is OrderStatus.FILLED, what="the rest filled")
    assert sum(f.quantity for f in safe.fills) == 100.0
    assert sim.positions() == {"AAPL": 100.0}


async def test_second_update_counts_the_fills_of_every_replacement(runtime):
    safe, sim, _ = runtime
    order = await _buy_100_with_40_filled(safe, sim)
    assert await safe.update_order(order.order_id, quantity=50)  # total 90
    sim.partial_fill(f"{order.order_id}.r1", 20, price=90.0)
    await wait_until(lambda: order.filled_quantity == 60, what="20 more filled")
    assert await safe.update_order(order.order_id, quantity=10)  # 10 more: total 70
    [replacement] = sim.open_orders()
    assert (replacement["client_order_id"], replacement["qty"]) == (f"{order.order_id}.r2", "10.0")
    sim.fill(f"{order.order_id}.r2")
    await wait_until(lambda: order.status is OrderStatus.FILLED, what="the rest filled")
    assert (order.quantity, order.filled_quantity) == (70.0, 70.0)
    assert sim.positions() == {"AAPL": 70.0}
