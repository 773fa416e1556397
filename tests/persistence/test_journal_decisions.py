"""Every decision about an order reaches the durable journal, in order, with its time and client
order id: submitted, acknowledged, partially filled, filled, cancelled, rejected with every
check's reason. Broker events arrive as the broker plugins emit them (`OrderStatusEvent`,
`FillEvent`) and are read back through a fresh store instance."""

from __future__ import annotations

from pathlib import Path

from ml4t.backtest import Fill, OrderSide, OrderStatus, OrderType
from ml4t_live_risk_order_size.check import OrderSizeCheck, OrderSizeConfig
from ml4t_live_risk_price_collar.check import PriceCollarCheck, PriceCollarConfig
from ml4t_live_testing.risk import risk_context

from ml4t_live_core.plugins import new_plugin_manager
from ml4t_live_core.protocols import FillEvent, OrderStatusEvent
from ml4t_live_core.state import JournalEvent

from .conftest import durable_store


async def test_every_decision_is_journaled_with_time_and_client_order_id(
    backend: str, state_dir: Path
) -> None:
    store = durable_store(backend, state_dir)
    await store.open()
    context = risk_context(prices={"AAPL": 150.0}, store=store)
    pm = new_plugin_manager()
    pm.register(OrderSizeCheck(OrderSizeConfig(max_shares=100)), name="order-size")
    pm.register(PriceCollarCheck(PriceCollarConfig(max_deviation_pct=5)), name="price-collar")
    context.hooks = pm.hook
    await context.venue.connect()
    clock = context.clock

    # The venue acknowledges each order as it takes it (an OrderStatusEvent, PENDING).
    filled = await context.submit_order("AAPL", 10, OrderSide.BUY, OrderType.LIMIT,
                                        limit_price=149.0)
    clock.advance(2)
    context._on_event(FillEvent(Fill(filled.order_id, "AAPL", OrderSide.BUY, 4, 149.0, clock.now()),
                                order_complete=False, execution_id="E-1"))
    clock.advance(1)
    context._on_event(FillEvent(Fill(filled.order_id, "AAPL", OrderSide.BUY, 6, 148.5, clock.now()),
                                order_complete=True, execution_id="E-2"))
    clock.advance(1)
    cancelled = await context.submit_order("AAPL", 5, OrderSide.BUY, OrderType.LIMIT,
                                           limit_price=148.0)
    clock.advance(1)
    context._on_event(OrderStatusEvent(cancelled.order_id, OrderStatus.CANCELLED, clock.now(),
                                       reason="user cancel"))
    clock.advance(1)
    rejected = await context.submit_order("AAPL", 500, OrderSide.BUY, OrderType.LIMIT,
                                          limit_price=200.0)
    assert rejected.status is OrderStatus.REJECTED
    await context.recorder.close()
    await store.close()

    reader = durable_store(backend, state_dir)
    await reader.open()
    try:
        records = [r for r in await reader.read_journal() if r.event is not JournalEvent.MARK]
    finally:
        await reader.close()
    seen = [(r.event, r.client_order_id, r.timestamp - records[0].timestamp) for r in records]
    seconds = [int(delta.total_seconds()) for *_, delta in seen]
    assert [(event, cid) for event, cid, _ in seen] == [
        (JournalEvent.SUBMITTED, filled.order_id),
        (JournalEvent.ACKNOWLEDGED, filled.order_id),
        (JournalEvent.PARTIALLY_FILLED, filled.order_id),
        (JournalEvent.FILLED, filled.order_id),
        (JournalEvent.SUBMITTED, cancelled.order_id),
        (JournalEvent.ACKNOWLEDGED, cancelled.order_id),
        (JournalEvent.CANCELLED, cancelled.order_id),
        (JournalEvent.REJECTED, rejected.order_id),
    ]
    assert seconds == [0, 0, 2, 3, 4, 4, 5, 6]
    partial, full = records[2], records[3]
    assert (partial.filled_quantity, partial.fill_price) == (4, 149.0)
    assert (full.filled_quantity, full.fill_price) == (6, 148.5)
    assert records[6].reasons == ("user cancel",)
    assert sorted(records[7].reasons) == [
        "order-size: quantity 500 > max 100",
        "price-collar: limit 200.00 is 33.3% from last 150.00 (max 5.0%)",
    ]
