"""Disconnects, gateway restarts and IB connectivity codes: nothing lost, nothing sent twice."""

from __future__ import annotations

import pytest
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType
from ml4t_live_ib.broker import IBBroker

from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_core.protocols import ConnectionEvent, FillEvent

from .conftest import events_of, fast_config, reconnected, settle, wait_until


def limit(order_id: str, price: float = 100.0, qty: float = 50) -> Order:
    return Order(
        asset="AAPL",
        side=OrderSide.BUY,
        quantity=qty,
        order_type=OrderType.LIMIT,
        limit_price=price,
        order_id=order_id,
    )


async def test_drop_after_place_order_is_recovered_by_order_ref(ib_gateway, ib_broker):
    ib_gateway.drop_after_next_order()
    result = await ib_broker.submit_order(limit("r-1"))
    assert result.status is OrderStatus.PENDING  # unknown outcome: kept, never resent
    await wait_until(reconnected(ib_broker))
    [recovered] = await ib_broker.get_open_orders()
    assert (recovered.order_id, recovered.limit_price, recovered.quantity) == ("r-1", 100.0, 50.0)
    assert len(ib_gateway.book.find_ref("r-1")) == 1
    again = await ib_broker.submit_order(limit("r-1"))  # a retry of the same client order id
    assert again.order_id == "r-1"
    assert [p.order_ref for p in ib_gateway.placed] == ["r-1"]
    ib_gateway.set_price("AAPL", 99.0)
    await settle(ib_broker)
    [fill] = events_of(ib_broker, FillEvent)
    assert (fill.fill.order_id, fill.fill.quantity, fill.order_complete) == ("r-1", 50.0, True)


async def test_gateway_restart_keeps_position_and_open_limit_order(ib_gateway, ib_broker):
    await ib_broker.submit_order(
        Order(asset="MSFT", side=OrderSide.BUY, quantity=30, order_id="r-2")
    )
    ib_gateway.fill("r-2", price=400.0)
    await ib_broker.submit_order(limit("r-3", price=95.0))
    await settle(ib_broker)
    await ib_gateway.restart()
    await wait_until(reconnected(ib_broker))
    assert (await ib_broker.get_positions())["MSFT"].quantity == 30.0
    [open_order] = await ib_broker.get_open_orders()
    assert open_order.order_id == "r-3"
    ib_gateway.set_price("AAPL", 94.0)
    await settle(ib_broker)
    fills = [e.fill.order_id for e in events_of(ib_broker, FillEvent)]
    assert fills == ["r-2", "r-3"]  # the pre-restart fill is not replayed
    assert len(ib_gateway.placed) == 2


async def test_fill_while_disconnected_is_replayed_once(ib_gateway, ib_broker):
    await ib_broker.submit_order(limit("r-4"))
    await ib_gateway.stop()
    ib_gateway.fill("r-4", 20, price=100.0)
    ib_gateway.fill("r-4", 30, price=99.5)
    await ib_gateway.start()
    await wait_until(reconnected(ib_broker))
    fills = events_of(ib_broker, FillEvent)
    assert [(e.fill.quantity, e.order_complete) for e in fills] == [(20.0, False), (30.0, True)]
    assert all(e.fill.commission > 0 for e in fills)
    assert await ib_broker.get_open_orders() == []


async def test_1100_pauses_trading_and_1102_resumes(ib_gateway, ib_broker):
    ib_gateway.emit_error(1100, "Connectivity between IB and Trader Workstation has been lost.")
    await settle(ib_broker)
    assert not ib_broker.is_connected
    with pytest.raises(BrokerUnavailableError, match="paused"):
        await ib_broker.submit_order(limit("r-5"))
    assert ib_gateway.placed == []
    ib_gateway.emit_error(
        1102, "Connectivity between IB and TWS has been restored - data maintained."
    )
    await wait_until(reconnected(ib_broker))
    assert ib_broker.is_connected
    assert [e.connected for e in events_of(ib_broker, ConnectionEvent)] == [False, True]
    assert (await ib_broker.submit_order(limit("r-5"))).status is OrderStatus.PENDING


async def test_silent_gateway_does_not_hang_the_order_path(ib_gateway):
    broker = IBBroker(fast_config(ib_gateway.port, ack_timeout=0.2, request_timeout=0.2))
    await broker.connect()
    try:
        await broker.contracts.qualify("AAPL")
        ib_gateway.stop_answering()
        result = await broker.submit_order(limit("r-6"))
        assert result.status is OrderStatus.PENDING
        with pytest.raises(
            BrokerUnavailableError, match="did not answer the contract lookup for 'MSFT'"
        ):
            await broker.submit_order(
                Order(asset="MSFT", side=OrderSide.BUY, quantity=1, order_id="r-7")
            )
    finally:
        await broker.disconnect()


async def test_connect_to_a_silent_gateway_fails_clearly(ib_gateway):
    ib_gateway.stop_answering()
    broker = IBBroker(fast_config(ib_gateway.port, connect_timeout=0.3))
    with pytest.raises(BrokerUnavailableError, match="cannot reach IB"):
        await broker.connect()


async def test_nothing_listening_is_a_clear_error():
    broker = IBBroker(fast_config(1, connect_timeout=0.3))
    with pytest.raises(BrokerUnavailableError, match="cannot reach IB at 127.0.0.1:1"):
        await broker.connect()


async def test_process_restart_adopts_open_orders_by_order_ref(ib_gateway, ib_broker):
    await ib_broker.submit_order(limit("p-1", price=90.0))
    await ib_broker.disconnect()  # the process stops; the order keeps working at IB
    successor = IBBroker(fast_config(ib_gateway.port))  # same client id, fresh process state
    seen = []
    successor.subscribe(seen.append)
    await successor.connect()
    try:
        [adopted] = await successor.get_open_orders()
        assert (adopted.order_id, adopted.limit_price, adopted.quantity, adopted.status) == (
            "p-1",
            90.0,
            50.0,
            OrderStatus.PENDING,
        )
        again = await successor.submit_order(limit("p-1", price=90.0))  # the runtime's retry
        assert again.order_id == "p-1"
        assert [p.order_ref for p in ib_gateway.placed] == ["p-1"]
        ib_gateway.set_price("AAPL", 89.0)
        await successor.ib.reqCurrentTimeAsync()
        [fill] = [e for e in seen if isinstance(e, FillEvent)]
        assert (fill.fill.order_id, fill.fill.quantity, fill.order_complete) == ("p-1", 50.0, True)
    finally:
        await successor.disconnect()


async def test_earlier_executions_are_history_on_first_connect(ib_gateway, ib_broker):
    await ib_broker.submit_order(limit("h-1"))
    ib_gateway.fill("h-1", price=100.0)
    await ib_broker.ib.reqCurrentTimeAsync()
    await ib_broker.disconnect()
    successor = IBBroker(fast_config(ib_gateway.port))
    seen = []
    successor.subscribe(seen.append)
    await successor.connect()
    try:
        assert [e for e in seen if isinstance(e, FillEvent)] == []  # positions already hold it
        assert (await successor.get_positions())["AAPL"].quantity == 50.0
    finally:
        await successor.disconnect()


async def test_server_cancel_of_an_unacknowledged_order_is_a_rejection(ib_gateway, ib_broker):
    from ml4t_live_core.protocols import OrderStatusEvent

    ib_broker.tracker.record(limit("s-1"))

    class FakeTrade:  # an order IB never acknowledged, then cancelled on its side (error 202)
        class order:
            orderId, orderRef = 4242, "s-1"

        class orderStatus:
            status = "PendingSubmit"

    ib_broker.tracker.bind("s-1", FakeTrade)  # type: ignore[arg-type]
    ib_broker.tracker.on_error(4242, 202, "Order Canceled - reason:Not allowed")
    [event] = [e for e in events_of(ib_broker, OrderStatusEvent) if e.client_order_id == "s-1"]
    assert event.status is OrderStatus.REJECTED and "Not allowed" in event.reason


async def test_failed_connect_leaves_no_reconnect_running(ib_gateway):
    ib_gateway.stop_answering()
    broker = IBBroker(fast_config(ib_gateway.port, connect_timeout=0.2))
    with pytest.raises(BrokerUnavailableError):
        await broker.connect()
    task = broker.conn._reconnect_task
    assert task is None or task.done()


async def test_client_pacing_holds_back_a_burst(ib_gateway):
    broker = IBBroker(fast_config(ib_gateway.port, max_requests_per_second=7))
    assert broker.ib.client.MaxRequests == 7
    await broker.connect()
    try:
        throttled = []
        broker.ib.client.throttleStart += lambda: throttled.append(True)
        for _ in range(20):  # a burst well past the limit: ib_async queues, never floods IB
            broker.ib.client.reqCurrentTime()
        assert throttled == [True]
        assert len(broker.ib.client._msgQ) > 0
    finally:
        await broker.disconnect()


async def test_pacing_violation_is_logged_not_a_disconnect(ib_gateway, ib_broker, caplog):
    ib_gateway.emit_error(100, "Max rate of messages per second has been exceeded:max=50 rec=51")
    await settle(ib_broker)
    assert ib_broker.is_connected
    assert events_of(ib_broker, ConnectionEvent) == []
    assert any("pacing violation" in r.getMessage() for r in caplog.records)


async def test_1101_refetches_executions_missed_while_ib_was_unreachable(ib_gateway, ib_broker):
    await ib_broker.submit_order(limit("m-1"))
    ib_gateway.emit_error(1100, "Connectivity between IB and Trader Workstation has been lost.")
    ib_gateway.fill("m-1", price=100.0, quiet=True)  # IB executed it; the message never came
    await settle(ib_broker)
    assert events_of(ib_broker, FillEvent) == []
    ib_gateway.emit_error(1101, "Connectivity between IB and TWS has been restored - data lost.")
    await wait_until(reconnected(ib_broker))
    [fill] = events_of(ib_broker, FillEvent)
    assert (fill.fill.order_id, fill.fill.quantity, fill.order_complete) == ("m-1", 50.0, True)
    assert await ib_broker.get_open_orders() == []


async def test_unanswered_reconciliation_keeps_trading_paused(ib_gateway):
    broker = IBBroker(fast_config(ib_gateway.port, request_timeout=0.2))
    seen = []
    broker.subscribe(seen.append)
    await broker.connect()
    try:
        ib_gateway.emit_error(1100, "lost")
        await broker.ib.reqCurrentTimeAsync()
        ib_gateway.stop_answering()
        ib_gateway.emit_error(1102, "restored")
        await wait_until(lambda: len([e for e in seen if isinstance(e, ConnectionEvent)]) >= 2)
        last = [e for e in seen if isinstance(e, ConnectionEvent)][-1]
        assert not last.connected and "reconciliation failed" in last.reason
        assert not broker.is_connected
    finally:
        await broker.disconnect()


async def test_order_lost_before_ib_recorded_it_is_rejected_not_resent(ib_gateway, ib_broker):
    from ml4t_live_core.protocols import OrderStatusEvent

    ib_gateway.lose_next_order()
    result = await ib_broker.submit_order(limit("l-1"))
    assert result.status is OrderStatus.PENDING  # unknown at this point
    await wait_until(reconnected(ib_broker))
    [event] = [e for e in events_of(ib_broker, OrderStatusEvent) if e.client_order_id == "l-1"]
    assert event.status is OrderStatus.REJECTED and "no record" in event.reason
    assert ib_gateway.book.find_ref("l-1") == []  # and nothing was sent again
    assert await ib_broker.get_open_orders() == []


async def test_order_cancelled_at_ib_while_disconnected_is_cancelled(ib_gateway, ib_broker):
    from ml4t_live_core.protocols import OrderStatusEvent

    await ib_broker.submit_order(limit("l-2"))
    await ib_gateway.stop()
    ib_gateway.cancel("l-2", "end of day")
    await ib_gateway.start()
    await wait_until(reconnected(ib_broker))
    [event] = [
        e
        for e in events_of(ib_broker, OrderStatusEvent)
        if e.client_order_id == "l-2" and e.status is not OrderStatus.PENDING
    ]
    assert event.status is OrderStatus.CANCELLED and "while disconnected" in event.reason


async def test_reconnect_that_gives_up_keeps_trading_stopped_and_says_so(ib_gateway):
    broker = IBBroker(fast_config(ib_gateway.port, reconnect_attempts=2))
    seen = []
    broker.subscribe(seen.append)
    await broker.connect()
    try:
        await ib_gateway.stop()  # the gateway is gone for good
        await wait_until(
            lambda: any(isinstance(e, ConnectionEvent) and "gave up" in e.reason for e in seen)
        )
        assert [e.connected for e in seen if isinstance(e, ConnectionEvent)] == [False, False]
        assert not broker.is_connected
        with pytest.raises(BrokerUnavailableError, match="not connected"):
            await broker.submit_order(limit("g-1"))
        assert ib_gateway.placed == []
    finally:
        await broker.disconnect()
