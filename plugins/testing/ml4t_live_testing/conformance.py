"""A reusable conformance suite for broker plugins: subclass `BrokerConformance` in your tests.

It checks what the runtime relies on from every `BrokerAdapter`: the protocol's methods, the
mapping of orders to `OrderStatusEvent` / `FillEvent` keyed by the client order id, idempotent
client order ids (a retried submit never makes a second order), cancels, and that a reconnect
keeps the account. A plugin with a fault-injecting transport also gets the disconnect checks.

    class TestMyBroker(BrokerConformance):
        async def make_broker(self):
            return MyBroker(MyConfig(url=...))

        async def trade_through(self, broker, asset, price):
            ...  # make the venue trade `asset` at `price` (a stub's quote, a bar for a sim)
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest
import pytest_asyncio
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType

from ml4t_live_core.protocols import (
    AccountSnapshot,
    BrokerAdapter,
    BrokerEvent,
    ConnectionEvent,
    FillEvent,
    OrderStatusEvent,
)

_ids = count(1)


class EventLog:
    """Every event a broker emitted, with the queries the checks need."""

    def __init__(self, broker: BrokerAdapter) -> None:
        self.events: list[BrokerEvent] = []
        broker.subscribe(self.events.append)

    def statuses(self, client_order_id: str) -> list[OrderStatus]:
        return [
            e.status
            for e in self.events
            if isinstance(e, OrderStatusEvent) and e.client_order_id == client_order_id
        ]

    def fills(self, client_order_id: str) -> list[FillEvent]:
        return [
            e
            for e in self.events
            if isinstance(e, FillEvent) and e.fill.order_id == client_order_id
        ]

    def connections(self) -> list[bool]:
        return [e.connected for e in self.events if isinstance(e, ConnectionEvent)]


class BrokerConformance:
    """The suite. Override `make_broker` and `trade_through`; the rest are optional knobs."""

    #: An asset the venue knows and can fill.
    asset: str = "XYZ"
    #: A price to trade at; limit orders far below it must rest unfilled.
    price: float = 100.0
    quantity: float = 10.0
    #: How long (event-loop seconds) to wait for an asynchronous venue to report something.
    timeout: float = 5.0

    async def make_broker(self) -> BrokerAdapter:
        """A fresh, not yet connected broker talking to a fresh venue."""
        raise NotImplementedError("subclass BrokerConformance and implement make_broker()")

    async def trade_through(self, broker: BrokerAdapter, asset: str, price: float) -> None:
        """Make the venue trade `asset` at `price` so that due market orders fill."""
        raise NotImplementedError("subclass BrokerConformance and implement trade_through()")

    async def drop_connection(self, broker: BrokerAdapter) -> bool:
        """Cut the transport under the broker (fault injection); return False if unsupported."""
        return False

    async def restore_connection(self, broker: BrokerAdapter) -> None:
        """Undo `drop_connection` so the broker can reconnect."""

    # --- helpers -------------------------------------------------------------------------------
    @pytest_asyncio.fixture
    async def broker(self) -> AsyncIterator[BrokerAdapter]:
        broker = await self.make_broker()
        await broker.connect()
        try:
            yield broker
        finally:
            await broker.disconnect()

    def order(
        self,
        side: OrderSide = OrderSide.BUY,
        order_type: OrderType = OrderType.MARKET,
        *,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_amount: float | None = None,
    ) -> Order:
        return Order(
            self.asset,
            side,
            self.quantity,
            order_type,
            order_id=f"conformance-{next(_ids)}",
            created_at=datetime.now(UTC),
            limit_price=limit_price,
            stop_price=stop_price,
            trail_amount=trail_amount,
        )

    async def eventually(self, predicate: Any, what: str) -> None:
        """Yield to the loop until `predicate()` holds; fail naming `what` after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while not predicate():
            if loop.time() > deadline:
                pytest.fail(f"broker never reported {what} within {self.timeout}s")
            await asyncio.sleep(0.005)

    async def filled_position(self, broker: BrokerAdapter) -> float:
        quantity = 0.0
        for position in (await broker.get_positions()).values():
            if position.asset == self.asset:
                quantity = position.quantity
        return quantity

    # --- protocol ------------------------------------------------------------------------------
    async def test_implements_the_broker_protocol(self, broker: BrokerAdapter) -> None:
        assert isinstance(broker, BrokerAdapter), "missing BrokerAdapter methods"
        assert isinstance(broker.name, str) and broker.name
        assert broker.is_connected

    async def test_disconnect_clears_is_connected(self) -> None:
        broker = await self.make_broker()
        assert not broker.is_connected, "a new broker must not claim a connection"
        await broker.connect()
        assert broker.is_connected
        await broker.disconnect()
        assert not broker.is_connected

    async def test_account_is_finite(self, broker: BrokerAdapter) -> None:
        snapshot = await broker.get_account()
        assert isinstance(snapshot, AccountSnapshot)
        for value in (snapshot.cash, snapshot.equity, snapshot.buying_power):
            assert math.isfinite(value), f"account value {value!r} is not finite"

    async def test_multiplier_is_positive(self, broker: BrokerAdapter) -> None:
        assert broker.get_multiplier(self.asset) > 0

    # --- event mapping -------------------------------------------------------------------------
    async def test_market_order_fills_under_its_client_order_id(
        self, broker: BrokerAdapter
    ) -> None:
        log = EventLog(broker)
        order = self.order()
        result = await broker.submit_order(order)
        assert result.order_id == order.order_id
        # A fast venue may answer FILLED at once; the runtime books fills only from FillEvents.
        assert result.status in (OrderStatus.PENDING, OrderStatus.FILLED), result.rejection_reason
        await self.trade_through(broker, self.asset, self.price)
        await self.eventually(
            lambda: any(f.order_complete for f in log.fills(order.order_id)),
            f"a complete fill for {order.order_id}",
        )
        fills = log.fills(order.order_id)
        assert sum(f.fill.quantity for f in fills) == pytest.approx(self.quantity)
        assert all(f.fill.asset == self.asset and f.fill.side is OrderSide.BUY for f in fills)
        assert all(math.isfinite(f.fill.price) and f.fill.price > 0 for f in fills)
        assert len({f.execution_id for f in fills}) == len(fills), "execution ids must be unique"
        assert await self.filled_position(broker) == pytest.approx(self.quantity)
        assert order.order_id not in {o.order_id for o in await broker.get_open_orders()}

    async def test_resting_limit_is_open_then_cancelled(self, broker: BrokerAdapter) -> None:
        log = EventLog(broker)
        order = self.order(order_type=OrderType.LIMIT, limit_price=round(self.price * 0.5, 2))
        await broker.submit_order(order)
        await self.trade_through(broker, self.asset, self.price)
        open_ids = {o.order_id for o in await broker.get_open_orders()}
        assert order.order_id in open_ids, "a limit far below the market must rest"
        assert await broker.cancel_order(order.order_id) is True
        await self.eventually(
            lambda: OrderStatus.CANCELLED in log.statuses(order.order_id),
            f"CANCELLED for {order.order_id}",
        )
        assert order.order_id not in {o.order_id for o in await broker.get_open_orders()}
        assert not log.fills(order.order_id)

    async def test_cancel_of_an_unknown_id_is_false(self, broker: BrokerAdapter) -> None:
        assert await broker.cancel_order("conformance-never-sent") is False

    # --- idempotent ids ------------------------------------------------------------------------
    async def test_resubmitting_the_same_client_id_makes_one_order(
        self, broker: BrokerAdapter
    ) -> None:
        log = EventLog(broker)
        order = self.order()
        await broker.submit_order(order)
        await broker.submit_order(
            Order(
                order.asset,
                order.side,
                order.quantity,
                order.order_type,
                order_id=order.order_id,
                created_at=order.created_at,
            )
        )
        await self.trade_through(broker, self.asset, self.price)
        await self.eventually(
            lambda: any(f.order_complete for f in log.fills(order.order_id)),
            f"a complete fill for {order.order_id}",
        )
        await self.trade_through(broker, self.asset, self.price)
        assert sum(f.fill.quantity for f in log.fills(order.order_id)) == pytest.approx(
            self.quantity
        )
        assert await self.filled_position(broker) == pytest.approx(self.quantity), "a retry doubled"

    # --- reconnect -----------------------------------------------------------------------------
    async def test_reconnect_keeps_positions(self, broker: BrokerAdapter) -> None:
        log = EventLog(broker)
        order = self.order()
        await broker.submit_order(order)
        await self.trade_through(broker, self.asset, self.price)
        await self.eventually(
            lambda: any(f.order_complete for f in log.fills(order.order_id)),
            f"a complete fill for {order.order_id}",
        )
        await broker.disconnect()
        await broker.connect()
        assert broker.is_connected
        assert await self.filled_position(broker) == pytest.approx(self.quantity)

    async def test_dropped_transport_is_reported_and_recovered(self, broker: BrokerAdapter) -> None:
        log = EventLog(broker)
        if not await self.drop_connection(broker):
            pytest.skip("this broker has no fault-injecting transport")
        await self.eventually(
            lambda: False in log.connections(), "ConnectionEvent(connected=False)"
        )
        await self.restore_connection(broker)
        await self.eventually(
            lambda: log.connections()[-1:] == [True],
            "ConnectionEvent(connected=True) after the transport came back",
        )
        assert broker.is_connected
        await broker.get_account()
