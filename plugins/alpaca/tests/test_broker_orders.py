"""AlpacaBroker order path against the simulator: submit, stream fills, order types, refusals."""

from __future__ import annotations

import pytest
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType

from ml4t_live_core.protocols import FillEvent, OrderStatusEvent

from .conftest import wait_until


def order(cid: str, qty: float = 10, side: OrderSide = OrderSide.BUY, kind: OrderType = OrderType.MARKET, **kw) -> Order:
    return Order(asset="AAPL", side=side, quantity=qty, order_type=kind, order_id=cid, **kw)


async def test_market_order_fill_arrives_through_the_stream(connected):
    broker, events, sim = connected
    sim.set_price("AAPL", 100.0)
    placed = await broker.submit_order(order("t-00000001"))
    assert placed.status is OrderStatus.PENDING
    assert [o["client_order_id"] for o in sim.orders()] == ["t-00000001"]
    sim.fill("t-00000001", price=101.5)
    await wait_until(lambda: events.of(FillEvent), what="the fill event")
    (fill_event,) = events.of(FillEvent)
    assert fill_event.fill.order_id == "t-00000001"
    assert (fill_event.fill.quantity, fill_event.fill.price, fill_event.order_complete) == (10, 101.5, True)
    assert fill_event.execution_id
    acks = [e for e in events.of(OrderStatusEvent) if e.status is OrderStatus.PENDING]
    assert acks and acks[0].broker_order_id == sim.orders()[0]["id"]
