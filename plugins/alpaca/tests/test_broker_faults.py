"""AlpacaBroker under faults: lost acknowledgements, HTTP 429/500/timeouts, stream drops,
duplicates."""

from __future__ import annotations

import pytest
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType
from ml4t_live_alpaca import AlpacaBroker

from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_core.protocols import ConnectionEvent, FillEvent, OrderStatusEvent

from .conftest import wait_until


def buy(cid: str, qty: float = 10) -> Order:
    return Order(
        asset="AAPL", side=OrderSide.BUY, quantity=qty, order_type=OrderType.MARKET, order_id=cid
    )


async def test_lost_acknowledgement_leaves_exactly_one_order(connected):
    broker, events, sim = connected
    sim.set_price("AAPL", 100.0)
    sim.drop_ack_next()  # accepted at the simulator, the HTTP answer never arrives
    placed = await broker.submit_order(buy("t-00000001"))
    assert placed.status is OrderStatus.PENDING
    assert len(sim.orders("t-00000001")) == 1
    assert sim.submissions("t-00000001") == ["accepted"]  # looked up by client id, not re-sent
    assert sim.requests("GET", "/v2/orders:by_client_order_id")
    sim.fill("t-00000001", price=100.0)  # the order is live and tracked: its fill arrives
    await wait_until(lambda: events.of(FillEvent), what="fill of the order whose ack was lost")
    assert events.of(FillEvent)[0].fill.order_id == "t-00000001"


async def test_timed_out_submit_never_creates_a_second_order(alpaca_sim_manual, make_broker):
    sim = alpaca_sim_manual
    broker = make_broker(sim, http_timeout=0.3)
    await broker.connect()
    try:
        sim.delay_next(
            "/v2/orders", 0.8, method="POST"
        )  # the first POST answers after the client gave up
        await broker.submit_order(buy("t-00000002"))
        await wait_until(
            lambda: len(sim.submissions("t-00000002")) == 2, what="the delayed POST to be handled"
        )
        assert len(sim.orders("t-00000002")) == 1
        assert sorted(sim.submissions("t-00000002")) == [
            "accepted",
            "client_order_id must be unique",
        ]
    finally:
        await broker.disconnect()


async def test_rate_limit_is_retried_after_the_servers_retry_after(alpaca_sim_manual, make_broker):
    sim = alpaca_sim_manual
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    broker = make_broker(sim)
    broker._rest._sleep = fake_sleep
    await broker.connect()
    try:
        sim.fail_next("/v2/orders", status=429, method="POST", retry_after=0.15)
        placed = await broker.submit_order(buy("t-00000003"))
        assert placed.status is OrderStatus.PENDING
        assert slept == [0.15]
        assert len(sim.orders("t-00000003")) == 1
    finally:
        await broker.disconnect()


async def test_server_errors_are_retried_with_the_same_client_order_id(connected):
    broker, _, sim = connected
    sim.fail_next("/v2/orders", status=500, method="POST", times=2)
    placed = await broker.submit_order(buy("t-00000004"))
    assert placed.status is OrderStatus.PENDING
    assert sim.submissions() == ["accepted"]
    assert len(sim.orders("t-00000004")) == 1


async def test_persistent_failure_keeps_the_order_pending_for_reconciliation(connected):
    broker, events, sim = connected
    sim.fail_next("/v2/orders", status=503, method="POST", times=50)
    placed = await broker.submit_order(buy("t-00000005"))
    assert (
        placed.status is OrderStatus.PENDING
    )  # unknown outcome: not claimed rejected, not re-sent blindly
    assert sim.orders("t-00000005") == []
    await wait_until(
        lambda: any(e.status is OrderStatus.REJECTED for e in events.of(OrderStatusEvent)),
        what="reconciliation to find the order never arrived",
    )
    (rejected,) = [e for e in events.of(OrderStatusEvent) if e.status is OrderStatus.REJECTED]
    assert rejected.client_order_id == "t-00000005" and "never arrived" in rejected.reason


async def test_stream_drop_refuses_orders_then_reconciles_without_losing_or_doubling_fills(
    connected,
):
    broker, events, sim = connected
    sim.set_price("AAPL", 50.0)
    await broker.submit_order(buy("t-00000006", qty=30))
    sim.partial_fill("t-00000006", 10, price=50.0)
    await wait_until(lambda: len(events.of(FillEvent)) == 1, what="first partial fill")

    sim.drop_trade_stream(refuse=3)
    await wait_until(lambda: not broker.is_connected, what="the broker to notice the drop")
    assert ConnectionEvent in {type(e) for e in events.events}
    assert events.of(ConnectionEvent)[-1].connected is False
    with pytest.raises(BrokerUnavailableError, match="not connected"):
        await broker.submit_order(buy("t-00000007"))
    assert sim.orders("t-00000007") == []

    sim.partial_fill("t-00000006", 5, price=51.0)  # streamed to nobody: lost unless reconciled
    await wait_until(lambda: broker.is_connected, what="reconnect")
    assert events.of(ConnectionEvent)[-1].connected is True
    await wait_until(
        lambda: len(events.of(FillEvent)) == 2, what="the missed fill from the REST poll"
    )

    sim.duplicate_next_fill()
    sim.fill("t-00000006", price=52.0)
    await wait_until(
        lambda: any(e.order_complete for e in events.of(FillEvent)), what="the final fill"
    )
    fills = [e.fill for e in events.of(FillEvent)]
    assert [f.quantity for f in fills] == [10, 5, 15]
    assert [f.price for f in fills] == pytest.approx([50.0, 51.0, 52.0])
    assert sum(f.quantity for f in fills) == sim.positions()["AAPL"] == 30
    assert sim.trade_listeners() == 1


async def test_duplicated_fill_event_counts_once(connected):
    broker, events, sim = connected
    sim.set_price("AAPL", 10.0)
    await broker.submit_order(buy("t-00000008", qty=4))
    sim.duplicate_next_fill()
    sim.fill("t-00000008")
    sim.set_price("AAPL", 11.0)  # a later, unrelated update proves the duplicate was processed
    await broker.submit_order(buy("t-00000009", qty=1))
    sim.fill("t-00000009")
    await wait_until(
        lambda: any(e.fill.order_id == "t-00000009" for e in events.of(FillEvent)),
        what="second order's fill",
    )
    assert [(e.fill.order_id, e.fill.quantity) for e in events.of(FillEvent)] == [
        ("t-00000008", 4),
        ("t-00000009", 1),
    ]


async def test_reconnect_resubscribes_after_repeated_refusals(connected):
    broker, events, sim = connected
    sim.drop_trade_stream(refuse=5)
    await wait_until(
        lambda: broker.is_connected and broker._stream.sessions == 2, what="second session"
    )
    assert sim.trade_listeners() == 1
    assert [e.connected for e in events.of(ConnectionEvent)][-2:] == [False, True]


async def test_connect_fails_clearly_and_without_secrets_on_bad_credentials(
    alpaca_sim_manual, alpaca_env, monkeypatch
):
    monkeypatch.setenv("APCA_API_SECRET_KEY", "wrong-secret-value-123456")
    from ml4t_live_alpaca import AlpacaBrokerConfig
    from ml4t_live_testing.alpaca import alpaca_broker_settings

    broker = AlpacaBroker(AlpacaBrokerConfig(**alpaca_broker_settings(alpaca_sim_manual)))
    with pytest.raises(BrokerUnavailableError) as info:
        await broker.connect()
    assert "not authorized" in str(info.value)
    assert "wrong-secret-value-123456" not in str(info.value)
    assert alpaca_env["APCA_API_KEY_ID"] not in str(info.value)


async def test_a_slow_rest_call_does_not_block_the_event_loop(connected):
    import asyncio

    broker, _, sim = connected
    sim.set_price("AAPL", 100.0)
    sim.delay_next("/v2/orders", 0.5, method="POST")  # alpaca-py's REST call is synchronous
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        placed = await broker.submit_order(buy("t-00000010"))
    finally:
        ticker.cancel()
    assert placed.status is OrderStatus.PENDING and len(sim.orders("t-00000010")) == 1
    assert ticks >= 10  # a blocked loop would tick once, after the call


async def test_reconnect_is_declared_only_after_a_reconciling_poll_succeeds(connected):
    broker, events, sim = connected
    sim.set_price("AAPL", 50.0)
    await broker.submit_order(buy("t-00000031", qty=10))
    sim.drop_trade_stream(refuse=2)
    sim.partial_fill("t-00000031", 4, price=50.0)  # nobody listens: only the poll can find it
    sim.fail_next("/v2/orders", status=500, method="GET", times=6)  # > one call's 4 attempts
    await wait_until(lambda: not broker.is_connected, what="the drop")
    await wait_until(lambda: broker.is_connected, timeout=5, what="reconnect")
    # every failed poll came before the broker said it was back
    assert len(sim.requests("GET", "/v2/orders")) >= 1 + 6 + 1  # connect, failures, success
    assert [e.connected for e in events.of(ConnectionEvent)] == [True, False, True]
    [fill] = events.of(FillEvent)
    assert (fill.fill.order_id, fill.fill.quantity, fill.order_complete) == ("t-00000031", 4, False)
