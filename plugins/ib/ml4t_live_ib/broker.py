"""IBBroker: the async `BrokerAdapter` for Interactive Brokers, on ib_async.

IB's events arrive on the event loop and update the adapter's own records; the runtime reads
them only through the async methods, which return copies. Orders carry the runtime's client
order id as IB `orderRef`: after a reconnect or restart, open orders and executions are matched
back by it, and an order whose id IB already knows is never sent again.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from datetime import datetime

import ib_async
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType, Position

from ml4t_live_core.clock import Clock, SystemClock
from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_core.protocols import (
    AccountEvent,
    AccountSnapshot,
    BrokerEvent,
    ConnectionEvent,
    EventHandler,
    FillEvent,
    OrderStatusEvent,
)

from ml4t_live_ib.config import IBConfig
from ml4t_live_ib.connection import (
    CONNECTIVITY_LOST,
    PACING_VIOLATION,
    RESTORED_DATA_KEPT,
    RESTORED_DATA_LOST,
    IBConnection,
)
from ml4t_live_ib.contracts import ContractCache, UnknownContractError
from ml4t_live_ib.orders import (
    ACKNOWLEDGED,
    ORDER_CANCELLED,
    REJECT_CODES,
    WORKING,
    UnsupportedOrderError,
    from_ib_trade,
    to_fill,
    to_ib_order,
)

log = logging.getLogger(__name__)
ACCOUNT_TAGS = ("NetLiquidation", "TotalCashValue", "AvailableFunds", "BuyingPower", "EquityWithLoanValue")


class IBBroker:
    """Interactive Brokers through TWS / IB Gateway (paper by default)."""

    name = "ib"

    def __init__(self, config: IBConfig | None = None, *, clock: Clock | None = None, ib: ib_async.IB | None = None):
        self.config = config or IBConfig()
        self.clock = clock or SystemClock()
        self.conn = IBConnection(self.config, ib)
        self.ib = self.conn.ib
        self.contracts = ContractCache(self.ib, self.config)
        self._handlers: list[EventHandler] = []
        self._orders: dict[str, Order] = {}  # client order id -> the adapter's record
        self._trades: dict[str, ib_async.Trade] = {}
        self._seen_executions: set[str] = set()
        self._cancel_requested: set[str] = set()
        self._final: set[str] = set()
        self._acknowledged: set[str] = set()
        self._paused = False
        self._tasks: set[asyncio.Task] = set()
        self._wire_events()

    # --- connection ----------------------------------------------------------------------

    def _wire_events(self) -> None:
        self.ib.orderStatusEvent += self._on_order_status
        self.ib.commissionReportEvent += self._on_commission
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.accountValueEvent += self._on_account_value

    async def connect(self) -> None:
        await self.conn.open()
        await self._reconcile(initial=True)
        self._paused = False

    async def disconnect(self) -> None:
        await self.conn.close()

    @property
    def is_connected(self) -> bool:
        return self.conn.connected and not self._paused

    def subscribe(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def _emit(self, event: BrokerEvent) -> None:
        for handler in self._handlers:
            handler(event)

    def _on_disconnected(self) -> None:
        if self.conn.closing:
            return
        self._paused = True
        self._emit(ConnectionEvent(False, "IB socket closed; reconnecting"))
        self.conn.reconnect_soon(self._restored, self._gave_up)

    async def _restored(self) -> None:
        await self._reconcile(initial=False)
        self._paused = False
        self._emit(ConnectionEvent(True, "IB reconnected and reconciled"))

    def _gave_up(self, reason: str) -> None:
        self._emit(ConnectionEvent(False, f"IB reconnect gave up: {reason}"))

    # --- reconciliation --------------------------------------------------------------------

    async def _reconcile(self, *, initial: bool) -> None:
        """Rebind open orders by orderRef, adopt unknown ones, replay executions not yet seen.

        On the first connect the account's earlier executions are history (positions already
        hold them) and are only marked seen; after a reconnect the unseen ones are fills.
        """
        # one round trip: the commission reports that follow the executions have arrived
        await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.config.request_timeout)
        if initial:
            self._seen_executions.update(f.execution.execId for f in self.ib.fills())
        open_refs: set[str] = set()
        for trade in self.ib.openTrades():
            ref = trade.order.orderRef
            if not ref:
                continue  # a manual TWS order: not the runtime's to manage
            open_refs.add(ref)
            self._trades[ref] = trade
            if ref not in self._orders:
                asset = self.contracts.asset_of(trade.contract)
                self._orders[ref] = from_ib_trade(trade, asset, self.clock.now())
        for fill in sorted(self.ib.fills(), key=lambda f: f.execution.time):
            ref = fill.execution.orderRef
            if ref in self._orders:
                self._emit_fill(ref, fill)
        for ref, order in self._orders.items():
            if ref in open_refs or ref in self._final or order.status is not OrderStatus.PENDING:
                continue
            if order.filled_quantity >= order.quantity - 1e-9:
                continue
            # IB does not know it as working: never resend, report what happened instead
            self._finish(ref, OrderStatus.CANCELLED, "not working at IB after reconnect (not resent)")
        snapshot = self._snapshot()
        if snapshot is not None:
            self._emit(AccountEvent(snapshot))

    # --- queries (copies for the caller) ---------------------------------------------------

    async def get_positions(self) -> dict[str, Position]:
        self._require_connection()
        now = self.clock.now()
        positions: dict[str, Position] = {}
        for p in self.ib.positions(self.conn.account):
            if p.position == 0:
                continue
            asset = self.contracts.asset_of(p.contract)
            multiplier = float(p.contract.multiplier or 1) or 1.0
            positions[asset] = Position(
                asset=asset, quantity=float(p.position), entry_price=float(p.avgCost) / multiplier,
                entry_time=now, multiplier=multiplier,
            )
        return positions

    async def get_open_orders(self) -> list[Order]:
        self._require_connection()
        return [copy.copy(o) for ref, o in self._orders.items() if o.status is OrderStatus.PENDING and ref not in self._final]

    async def get_account(self) -> AccountSnapshot:
        self._require_connection()
        snapshot = self._snapshot()
        if snapshot is None:
            raise BrokerUnavailableError("IB has not reported NetLiquidation / TotalCashValue for the account yet")
        return snapshot

    def _snapshot(self) -> AccountSnapshot | None:
        values: dict[str, float] = {}
        for v in self.ib.accountValues(self.conn.account):
            if v.tag in ACCOUNT_TAGS and v.currency == self.config.currency:
                try:
                    values[v.tag] = float(v.value)
                except ValueError:
                    continue
        if "NetLiquidation" not in values or "TotalCashValue" not in values:
            return None
        return AccountSnapshot(
            cash=values["TotalCashValue"], equity=values["NetLiquidation"],
            buying_power=values.get("BuyingPower", values.get("AvailableFunds", 0.0)),
            currency=self.config.currency, values=values,
        )

    def get_multiplier(self, asset: str) -> float:
        return self.contracts.multiplier(asset)

    async def on_bar(self, timestamp: datetime, data: dict) -> None:
        return None  # IB fills orders itself

    def _require_connection(self) -> None:
        if not self.is_connected:
            raise BrokerUnavailableError("not connected to IB (trading paused until reconnected and reconciled)")

    # --- orders ----------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> Order:
        """Send one order (or return the one IB already has for this client order id)."""
        known = self._orders.get(order.order_id)
        if known is not None:
            return copy.copy(known)
        self._require_connection()
        try:
            contract = await self.contracts.qualify(order.asset)
            ib_order = to_ib_order(order, account=self.conn.account)
        except (UnknownContractError, UnsupportedOrderError, ValueError) as exc:
            order.status, order.rejection_reason = OrderStatus.REJECTED, str(exc)
            return order
        trade = self._place(order, contract, ib_order)
        await self._await_ack(trade)
        return copy.copy(self._orders[order.order_id])

    async def submit_bracket(self, entry: Order, take_profit: Order, stop_loss: Order) -> tuple[Order, Order, Order]:
        """Parent + take-profit + stop-loss as IB child orders; IB activates and OCA-links them."""
        if entry.order_id in self._orders:
            return tuple(copy.copy(self._orders.get(o.order_id, o)) for o in (entry, take_profit, stop_loss))
        self._require_connection()
        try:
            contract = await self.contracts.qualify(entry.asset)
            parent = to_ib_order(entry, account=self.conn.account)
            children = [to_ib_order(o, account=self.conn.account) for o in (take_profit, stop_loss)]
        except (UnknownContractError, UnsupportedOrderError, ValueError) as exc:
            for o in (entry, take_profit, stop_loss):
                o.status, o.rejection_reason = OrderStatus.REJECTED, str(exc)
            return entry, take_profit, stop_loss
        parent.orderId = self.ib.client.getReqId()
        parent.transmit = False
        for child in children:
            child.orderId = self.ib.client.getReqId()
            child.parentId = parent.orderId
            child.transmit = False
        children[-1].transmit = True  # the last child transmits the whole bracket atomically
        trade = self._place(entry, contract, parent)
        for order, ib_order in zip((take_profit, stop_loss), children, strict=True):
            self._place(order, contract, ib_order)
        await self._await_ack(trade)
        return tuple(copy.copy(self._orders[o.order_id]) for o in (entry, take_profit, stop_loss))

    def _place(self, order: Order, contract: ib_async.Contract, ib_order: ib_async.Order) -> ib_async.Trade:
        record = copy.copy(order)
        record.status = OrderStatus.PENDING
        self._orders[order.order_id] = record
        trade = self.ib.placeOrder(contract, ib_order)
        self._trades[order.order_id] = trade
        return trade

    async def _await_ack(self, trade: ib_async.Trade) -> None:
        """Wait briefly for IB's acknowledgement or rejection; silence or a dropped socket
        leaves the order PENDING (reconciliation finds it by orderRef)."""
        ref = trade.order.orderRef
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.ack_timeout
        while trade.orderStatus.status not in ACKNOWLEDGED and ref not in self._final and trade.orderStatus.status in WORKING:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._paused or not self.ib.isConnected():
                return
            waiters = [asyncio.ensure_future(trade.statusEvent), asyncio.ensure_future(self.ib.disconnectedEvent)]
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def cancel_order(self, client_order_id: str) -> bool:
        self._require_connection()
        trade = self._trades.get(client_order_id)
        if trade is None or client_order_id in self._final or trade.orderStatus.status not in WORKING:
            return False
        self._cancel_requested.add(client_order_id)
        self.ib.cancelOrder(trade.order)
        return True

    async def modify_order(self, client_order_id: str, **changes: float) -> bool:
        """Change quantity / limit / stop / trail of a working order (IB: placeOrder, same id)."""
        self._require_connection()
        trade = self._trades.get(client_order_id)
        order = self._orders.get(client_order_id)
        if trade is None or order is None or client_order_id in self._final or trade.orderStatus.status not in WORKING:
            return False
        allowed = {"quantity", "limit_price", "stop_price", "trail_amount"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"IB cannot modify {sorted(unknown)}; allowed: {sorted(allowed)}")
        updated = copy.copy(order)
        for key, value in changes.items():
            if value is None or not math.isfinite(value) or value <= 0:
                raise ValueError(f"modify_order {client_order_id}: {key} must be positive and finite, got {value!r}")
            setattr(updated, key, float(value))
        if updated.quantity < order.filled_quantity:
            raise ValueError(f"modify_order {client_order_id}: quantity {updated.quantity} is below the {order.filled_quantity} already filled")
        fresh = to_ib_order(updated, account=self.conn.account)
        ib_order = trade.order
        ib_order.totalQuantity, ib_order.lmtPrice, ib_order.auxPrice = fresh.totalQuantity, fresh.lmtPrice, fresh.auxPrice
        self.ib.placeOrder(trade.contract, ib_order)
        self._orders[client_order_id] = updated
        return True

    async def close_position(self, asset: str) -> Order | None:
        positions = await self.get_positions()
        position = positions.get(asset)
        if position is None:
            return None
        side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
        seq = sum(1 for ref in self._orders if ref.startswith(f"close-{asset}-"))
        order = Order(asset=asset, side=side, quantity=abs(position.quantity), order_type=OrderType.MARKET,
                      order_id=f"close-{asset}-{seq}", created_at=self.clock.now())
        return await self.submit_order(order)

    # --- IB events -------------------------------------------------------------------------

    def _on_order_status(self, trade: ib_async.Trade) -> None:
        ref = trade.order.orderRef
        order = self._orders.get(ref)
        if order is None or ref in self._final:
            return
        status = trade.orderStatus.status
        if status in ACKNOWLEDGED:
            if ref in self._acknowledged:
                return  # IB repeats Submitted with every partial fill; the runtime hears it once
            self._acknowledged.add(ref)
            self._emit(OrderStatusEvent(ref, OrderStatus.PENDING, self.clock.now(), broker_order_id=str(trade.order.permId or trade.order.orderId)))
        elif status == "Inactive":
            self._finish(ref, OrderStatus.REJECTED, self._last_error(trade) or "IB reports the order Inactive")
        elif status in ("Cancelled", "ApiCancelled") and not self._last_error(trade):
            self._finish(ref, OrderStatus.CANCELLED, "cancelled")
        # Cancelled after an error: _on_error decides (it knows the code and IB's text)

    def _on_error(self, req_id: int, code: int, text: str, contract: object) -> None:
        if code == CONNECTIVITY_LOST:
            self._paused = True
            self._emit(ConnectionEvent(False, f"IB {code}: {text}"))
            return
        if code == PACING_VIOLATION:
            log.error("IB pacing violation (error 100): %s; client throttle is %d msg/s", text, self.config.max_requests_per_second)
            return
        if code in (RESTORED_DATA_LOST, RESTORED_DATA_KEPT):
            task = asyncio.get_running_loop().create_task(self._restored())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        ref = next((r for r, t in self._trades.items() if t.order.orderId == req_id), None)
        if ref is None or ref in self._final:
            return
        reason = f"IB error {code}: {text}"
        order = self._orders[ref]
        if code in REJECT_CODES:
            self._finish(ref, OrderStatus.REJECTED, reason)
        elif code == ORDER_CANCELLED:
            was_working = self._trades[ref].orderStatus.status != "PendingSubmit" or order.filled_quantity > 0
            requested = ref in self._cancel_requested
            self._finish(ref, OrderStatus.CANCELLED if requested or was_working else OrderStatus.REJECTED, reason)

    def _last_error(self, trade: ib_async.Trade) -> str:
        for entry in reversed(trade.log):
            if entry.errorCode:
                return entry.message
        return ""

    def _finish(self, ref: str, status: OrderStatus, reason: str) -> None:
        order = self._orders[ref]
        if order.status is not OrderStatus.PENDING and ref in self._final:
            return
        self._final.add(ref)
        order.status = status
        if status is OrderStatus.REJECTED:
            order.rejection_reason = reason
        else:
            order.cancellation_reason = reason
        self._emit(OrderStatusEvent(ref, status, self.clock.now(), reason=reason))

    def _on_commission(self, trade: ib_async.Trade, fill: ib_async.Fill, report: object) -> None:
        ref = fill.execution.orderRef
        if ref in self._orders:
            self._emit_fill(ref, fill)

    def _emit_fill(self, ref: str, fill: ib_async.Fill) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._seen_executions:
            return
        self._seen_executions.add(exec_id)
        order = self._orders[ref]
        ml4t_fill = to_fill(order, fill, multiplier=self.get_multiplier(order.asset), currency=self.config.currency)
        order.filled_quantity = float(fill.execution.cumQty)
        order.filled_price = float(fill.execution.avgPrice)
        complete = order.filled_quantity >= order.quantity - 1e-9
        if complete:
            order.status = OrderStatus.FILLED
            order.filled_at = ml4t_fill.timestamp
            self._final.add(ref)
        self._emit(FillEvent(ml4t_fill, order_complete=complete, execution_id=exec_id))

    def _on_account_value(self, value: ib_async.AccountValue) -> None:
        if value.tag == "NetLiquidation" and value.account == self.conn.account:
            snapshot = self._snapshot()
            if snapshot is not None:
                self._emit(AccountEvent(snapshot))
