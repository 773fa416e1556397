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
)
from ml4t_live_ib import pruning
from ml4t_live_ib.config import IBConfig
from ml4t_live_ib.connection import (
    CONNECTIVITY_LOST,
    PACING_VIOLATION,
    RESTORED_DATA_KEPT,
    RESTORED_DATA_LOST,
    IBConnection,
    mask_accounts,
)
from ml4t_live_ib.contracts import ContractCache, UnknownContractError
from ml4t_live_ib.orders import ACKNOWLEDGED, WORKING, UnsupportedOrderError, to_ib_order
from ml4t_live_ib.tracking import DONE_AT_IB, OrderTracker

log = logging.getLogger(__name__)
ACCOUNT_TAGS = (
    "NetLiquidation",
    "TotalCashValue",
    "AvailableFunds",
    "BuyingPower",
    "EquityWithLoanValue",
)


class IBBroker:
    """Interactive Brokers through TWS / IB Gateway (paper by default)."""

    name = "ib"

    def __init__(
        self,
        config: IBConfig | None = None,
        *,
        clock: Clock | None = None,
        ib: ib_async.IB | None = None,
    ):
        self.config = config or IBConfig()
        self.clock = clock or SystemClock()
        self.conn = IBConnection(self.config, ib)
        self.ib = self.conn.ib
        self.contracts = ContractCache(self.ib, self.config)
        self._handlers: list[EventHandler] = []
        self.tracker = OrderTracker(
            self.contracts,
            self.clock,
            self.config.currency,
            self._emit,
            finished_limit=self.config.finished_order_limit,
            forget_trade=lambda trade: pruning.drop_trade(self.ib.wrapper, trade),
        )
        self._paused = False
        self._active = False
        self._closes = 0
        self._account_due = False  # an AccountEvent is scheduled for this loop iteration
        self._tasks: set[asyncio.Task] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._wire_events()

    # --- connection ----------------------------------------------------------------------

    def _wire_events(self) -> None:
        self.ib.orderStatusEvent += self.tracker.on_order_status
        # a fill is reported once its commission is known (IB sends the report right after)
        self.ib.commissionReportEvent += lambda trade, fill, report: self.tracker.on_execution(fill)
        self.ib.execDetailsEvent += self._on_exec_details
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.accountValueEvent += self._on_account_value

    async def connect(self) -> None:
        await self.conn.open()
        try:
            await self._reconcile(initial=True)
        except (TimeoutError, ConnectionError) as exc:
            self.ib.disconnect()
            raise BrokerUnavailableError(
                f"IB did not answer during start-up reconciliation: {exc!r}"
            ) from exc
        self._paused = False
        self._active = True  # from now on a dropped socket means "reconnect"

    async def disconnect(self) -> None:
        self._active = False
        for timer in self._timers:  # stopping: nothing may reach the runtime after this
            timer.cancel()
        self._timers.clear()
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
        if self.conn.closing or not self._active:
            return  # our own disconnect, or a connect() that failed and already raised
        self._paused = True
        self._emit(ConnectionEvent(False, "IB socket closed; reconnecting"))
        self.conn.reconnect_soon(self._restored, self._gave_up)

    async def _restored(self, *, refresh: bool = False) -> None:
        try:
            if refresh:  # same socket (1101/1102): ask IB again for orders and executions
                await asyncio.wait_for(
                    asyncio.gather(
                        self.ib.reqOpenOrdersAsync(),
                        self.ib.reqCompletedOrdersAsync(False),
                        self.ib.reqExecutionsAsync(),
                    ),
                    self.config.request_timeout,
                )
            await self._reconcile(initial=False)
        except (
            TimeoutError,
            ConnectionError,
        ) as exc:  # stay paused: trading unreconciled is unsafe
            log.error("IB reconnected but reconciliation failed; trading stays paused: %r", exc)
            self._emit(ConnectionEvent(False, f"IB reconciliation failed: {exc!r}"))
            return
        self._paused = False
        self._emit(ConnectionEvent(True, "IB reconnected and reconciled"))

    def _gave_up(self, reason: str) -> None:
        self._emit(ConnectionEvent(False, f"IB reconnect gave up: {reason}"))

    # --- reconciliation --------------------------------------------------------------------

    async def _reconcile(self, *, initial: bool) -> None:
        """Bring the tracker in line with IB (open orders by orderRef, unseen executions)."""
        # one round trip: the commission reports that follow the executions have arrived
        await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.config.request_timeout)
        done = [t for t in self.ib.trades() if t.orderStatus.status in DONE_AT_IB]
        self.tracker.reconcile(self.ib.openTrades(), self.ib.fills(), done, initial=initial)
        pruning.sweep(self.ib.wrapper, self.tracker.tracks)  # what IB re-sent for no order of ours
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
                asset=asset,
                quantity=float(p.position),
                entry_price=float(p.avgCost) / multiplier,
                entry_time=now,
                multiplier=multiplier,
            )
        return positions

    async def get_open_orders(self) -> list[Order]:
        self._require_connection()
        return self.tracker.open_orders()

    async def get_account(self) -> AccountSnapshot:
        self._require_connection()
        snapshot = self._snapshot()
        if snapshot is None:
            raise BrokerUnavailableError(
                "IB has not reported NetLiquidation / TotalCashValue for the account yet"
            )
        return snapshot

    def _snapshot(self) -> AccountSnapshot | None:
        values: dict[str, float] = {}
        for v in self.ib.accountValues(self.conn.account):
            if v.tag in ACCOUNT_TAGS and v.currency == self.config.currency:
                try:
                    value = float(v.value)
                except ValueError:
                    continue
                if math.isfinite(value):  # a NaN equity must not reach the risk checks
                    values[v.tag] = value
        if "NetLiquidation" not in values or "TotalCashValue" not in values:
            return None
        return AccountSnapshot(
            cash=values["TotalCashValue"],
            equity=values["NetLiquidation"],
            buying_power=values.get("BuyingPower", values.get("AvailableFunds", 0.0)),
            currency=self.config.currency,
            values=values,
        )

    def get_multiplier(self, asset: str) -> float:
        return self.contracts.multiplier(asset)

    async def on_bar(self, timestamp: datetime, data: dict) -> None:
        return None  # IB fills orders itself

    def _require_connection(self) -> None:
        if not self.is_connected:
            raise BrokerUnavailableError(
                "not connected to IB (trading paused until reconnected and reconciled)"
            )

    # --- orders ----------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> Order:
        """Send one order (or return the one IB already has for this client order id)."""
        known = self.tracker.known(order.order_id)
        if known is not None:
            return known
        if self.tracker.forgotten(order.order_id):
            return _already_finished(order)
        self._require_connection()
        try:
            contract = await self.contracts.qualify(order.asset)
            ib_order = to_ib_order(order, account=self.conn.account)
        except (UnknownContractError, UnsupportedOrderError, ValueError) as exc:
            order.status, order.rejection_reason = OrderStatus.REJECTED, str(exc)
            return order
        trade = self._place(order, contract, ib_order)
        await self._await_ack(trade)
        return self.tracker.known(order.order_id)  # type: ignore[return-value]

    async def submit_bracket(
        self, entry: Order, take_profit: Order, stop_loss: Order
    ) -> tuple[Order, Order, Order]:
        """Parent + take-profit + stop-loss as IB child orders; IB activates and OCA-links them."""
        legs = (entry, take_profit, stop_loss)
        if self.tracker.known(entry.order_id) is not None:
            return tuple(self.tracker.known(o.order_id) or o for o in legs)  # type: ignore[return-value]
        if self.tracker.forgotten(entry.order_id):
            return tuple(_already_finished(o) for o in legs)  # type: ignore[return-value]
        self._require_connection()
        try:
            contract = await self.contracts.qualify(entry.asset)
            parent = to_ib_order(entry, account=self.conn.account)
            children = [to_ib_order(o, account=self.conn.account) for o in (take_profit, stop_loss)]
        except (UnknownContractError, UnsupportedOrderError, ValueError) as exc:
            for o in legs:
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
        return tuple(self.tracker.known(o.order_id) for o in legs)  # type: ignore[return-value]

    def _place(
        self, order: Order, contract: ib_async.Contract, ib_order: ib_async.Order
    ) -> ib_async.Trade:
        self.tracker.record(order)
        trade = self.ib.placeOrder(contract, ib_order)
        self.tracker.bind(order.order_id, trade)
        return trade

    async def _await_ack(self, trade: ib_async.Trade) -> None:
        """Wait briefly for IB's acknowledgement or rejection; silence or a dropped socket
        leaves the order PENDING (reconciliation finds it by orderRef)."""
        ref = trade.order.orderRef
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.ack_timeout
        while (
            trade.orderStatus.status not in ACKNOWLEDGED
            and not self.tracker.is_final(ref)
            and trade.orderStatus.status in WORKING
        ):
            remaining = deadline - loop.time()
            if remaining <= 0 or self._paused or not self.ib.isConnected():
                return
            waiters = [
                asyncio.ensure_future(trade.statusEvent),
                asyncio.ensure_future(self.ib.disconnectedEvent),
            ]
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def cancel_order(self, client_order_id: str) -> bool:
        self._require_connection()
        trade = self.tracker.working_trade(client_order_id)
        if trade is None:
            return False
        self.tracker.request_cancel(client_order_id)
        self.ib.cancelOrder(trade.order)
        return True

    async def modify_order(self, client_order_id: str, **changes: float) -> bool:
        """Change quantity / limit / stop / trail of a working order (IB: placeOrder, same id).
        `quantity` is the new total, as the core protocol and IB's `totalQuantity` mean it."""
        self._require_connection()
        trade = self.tracker.working_trade(client_order_id)
        if trade is None:
            return False
        allowed = {"quantity", "limit_price", "stop_price", "trail_amount"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"IB cannot modify {sorted(unknown)}; allowed: {sorted(allowed)}")
        order = self.tracker.order(client_order_id)
        updated = copy.copy(order)
        for key, value in changes.items():
            if value is None or not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"modify_order {client_order_id}: {key} must be positive and finite, "
                    f"got {value!r}"
                )
            setattr(updated, key, float(value))
        if updated.quantity < order.filled_quantity:
            raise ValueError(
                f"modify_order {client_order_id}: quantity {updated.quantity} is below the "
                f"{order.filled_quantity} already filled"
            )
        fresh = to_ib_order(updated, account=self.conn.account)
        ib_order = trade.order
        ib_order.totalQuantity, ib_order.lmtPrice, ib_order.auxPrice = (
            fresh.totalQuantity,
            fresh.lmtPrice,
            fresh.auxPrice,
        )
        self.tracker.begin_modify(client_order_id, updated)
        self.ib.placeOrder(trade.contract, ib_order)
        return True

    async def close_position(self, asset: str) -> Order | None:
        positions = await self.get_positions()
        position = positions.get(asset)
        if position is None:
            return None
        side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
        self._closes += 1
        order = Order(
            asset=asset,
            side=side,
            quantity=abs(position.quantity),
            order_type=OrderType.MARKET,
            order_id=f"close-{asset}-{self.clock.now():%Y%m%dT%H%M%S}-{self._closes}",
            created_at=self.clock.now(),
        )
        return await self.submit_order(order)

    # --- IB events -------------------------------------------------------------------------

    def _on_exec_details(self, trade: ib_async.Trade, fill: ib_async.Fill) -> None:
        """Normally the commission report follows at once and reports the fill; if it does not,
        the fill is reported without commission after `commission_timeout`."""

        def fallback() -> None:
            self._timers.discard(handle)
            if not self.tracker.seen(fill):
                log.warning(
                    "execution %s: no commission report within %.1fs; fill reported without it",
                    fill.execution.execId,
                    self.config.commission_timeout,
                )
                self.tracker.on_execution(fill)

        handle = asyncio.get_running_loop().call_later(self.config.commission_timeout, fallback)
        self._timers.add(handle)

    def _on_error(self, req_id: int, code: int, text: str, contract: object) -> None:
        text = mask_accounts(text)
        if code == CONNECTIVITY_LOST:
            self._paused = True
            self._emit(ConnectionEvent(False, f"IB {code}: {text}"))
        elif code == PACING_VIOLATION:
            log.error(
                "IB pacing violation (error 100): %s; client throttle is %d msg/s",
                text,
                self.config.max_requests_per_second,
            )
        elif code in (RESTORED_DATA_LOST, RESTORED_DATA_KEPT):
            task = asyncio.get_running_loop().create_task(self._restored(refresh=True))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self.tracker.on_error(req_id, code, text)

    def _on_account_value(self, value: ib_async.AccountValue) -> None:
        # IB sends one message per value: reporting at the first (NetLiquidation) paired it
        # with the cash from before the fill. Report once the values decoded with it are in.
        if value.tag not in ACCOUNT_TAGS or value.account != self.conn.account or self._account_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on a loop (a direct call): nothing else can be pending
            self._emit_account()
            return
        self._account_due = True
        loop.call_soon(self._emit_account)

    def _emit_account(self) -> None:
        self._account_due = False
        snapshot = self._snapshot()
        if snapshot is not None:
            self._emit(AccountEvent(snapshot))


def _already_finished(order: Order) -> Order:
    """A resubmitted id of an order that finished long ago: refused, never sent again."""
    order = copy.copy(order)
    order.status = OrderStatus.REJECTED
    order.rejection_reason = (
        f"order id {order.order_id} was already used by an order that finished; not sent again"
    )
    return order
