"""Broker events on the event loop: fills, order status, account snapshots, connectivity.

What a venue reports after an order has left SafeBroker. The book, the journal, the stats and
the hooks follow it here; the order path (`safety_orders`) only sends and records its own answers.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

from ml4t.backtest import Fill, Order, OrderStatus

from ml4t_live_core.book import AccountBook
from ml4t_live_core.portfolio import QUANTITY_EPSILON
from ml4t_live_core.protocols import (
    AccountEvent,
    BrokerAdapter,
    BrokerEvent,
    ConnectionEvent,
    FillEvent,
    OrderStatusEvent,
)
from ml4t_live_core.state import JournalEvent
from ml4t_live_core.stats import RuntimeStats

log = logging.getLogger("ml4t_live.safety")  # one logging component for the safety layer


class SafetyEvents(AccountBook):
    """Mixin of `SafeBroker`: applies the venue's events to the book, journal and hooks."""

    # Set by `SafeBroker.__init__`.
    broker: BrokerAdapter
    venue: BrokerAdapter
    shadow: bool
    hooks: Any
    stats: RuntimeStats
    connected: bool

    if TYPE_CHECKING:  # defined by `SafetyOrders`

        def _journal_later(self, order: Order, event: JournalEvent, **kwargs: Any) -> None: ...

    # --- broker events (on the loop) ------------------------------------------------------
    def _on_event(self, event: BrokerEvent) -> None:
        if isinstance(event, FillEvent):
            self._on_fill(event)
        elif isinstance(event, OrderStatusEvent):
            self._on_status(event)
        elif isinstance(event, AccountEvent):
            if not self.shadow or self.venue is not self.broker:
                self.ledger.cash = event.snapshot.cash
                self.buying_power = event.snapshot.buying_power
            self.hooks.ml4t_live_on_account(snapshot=event.snapshot, context=self)
        elif isinstance(event, ConnectionEvent):
            # only after a reported loss: a plugin may announce its first connect as an event too
            regained = event.connected and not self.connected
            if regained and self.stats.disconnects > self.stats.reconnects:
                self.stats.reconnects += 1
            self.connected = event.connected
            self.stats.connected = event.connected
            if not event.connected:
                self.stats.disconnects += 1
            log.warning(
                "broker %s: %s", "connected" if event.connected else "DISCONNECTED", event.reason
            )

    def _on_status(self, event: OrderStatusEvent) -> None:
        order = self._orders.get(event.client_order_id)
        if order is None:
            log.warning(
                "status for unknown order %s: %s",
                event.client_order_id,
                event.status.value,
                extra={"order_id": event.client_order_id},
            )
            return
        if event.status is OrderStatus.REJECTED:
            self._broker_rejected(order, event.reason or "rejected by broker")
        elif event.status is OrderStatus.CANCELLED and order.status is OrderStatus.PENDING:
            self._remove_pending(order)
            order.status = OrderStatus.CANCELLED
            order.cancelled_at, order.cancellation_reason = event.timestamp, event.reason
            self.history.finished(order)
            self._journal_later(
                order, JournalEvent.CANCELLED, reasons=(event.reason or "cancelled",)
            )
        elif (
            event.status is OrderStatus.PENDING
            and event.acknowledged
            and order.status is OrderStatus.PENDING
        ):
            self._journal_later(
                order, JournalEvent.ACKNOWLEDGED, detail={"broker_order_id": event.broker_order_id}
            )

    def _on_fill(self, event: FillEvent) -> None:
        fill = event.fill
        execution_id = event.execution_id
        if execution_id and not self.history.first_execution(fill.order_id, execution_id):
            return  # a replayed/duplicated execution
        order = self._orders.get(fill.order_id)
        multiplier = fill.multiplier or self.venue.get_multiplier(fill.asset)
        self._exposure_remove(fill.asset)
        self.ledger.apply_fill(fill, multiplier)
        if fill.asset not in self.prices:  # copy-on-write: the strategy thread may be reading
            self.prices = {**self.prices, fill.asset: fill.price}
        self._exposure_add(fill.asset)
        self.fills.append(fill)
        self.stats.fills += 1
        complete = event.order_complete
        if order is not None:
            self._remove_pending(order)
            prior = order.filled_quantity
            order.filled_quantity = prior + fill.quantity
            order.filled_price = (
                (order.filled_price or 0.0) * prior + fill.price * fill.quantity
            ) / order.filled_quantity
            order.filled_at = fill.timestamp
            order.commission_paid += fill.commission
            complete = complete or order.filled_quantity >= order.quantity - QUANTITY_EPSILON
            if complete:
                order.status = OrderStatus.FILLED
                self.history.finished(order)
            else:
                self._add_pending(order)
        event_kind = JournalEvent.FILLED if complete else JournalEvent.PARTIALLY_FILLED
        self._journal_later(order or _order_from_fill(fill), event_kind, fill=fill)
        self.hooks.ml4t_live_on_fill(fill=fill, context=self)

    def _broker_rejected(self, order: Order, reason: str) -> None:
        if order.status is OrderStatus.REJECTED:
            return
        self._remove_pending(order)
        order.reject(reason, "broker_rejected")
        self.rejected.append(copy.copy(order))
        self.history.finished(order)
        self.last_rejection_reason = reason
        self.stats.orders_rejected += 1
        self.stats.rejections_by_check["broker"] = (
            self.stats.rejections_by_check.get("broker", 0) + 1
        )
        log.info(
            "order rejected by the broker: %s %s %s (%s)",
            order.side.name,
            order.quantity,
            order.asset,
            reason,
            extra={"order_id": order.order_id, "asset": order.asset},
        )
        self._journal_later(order, JournalEvent.REJECTED, reasons=(f"broker: {reason}",))


def _order_from_fill(fill: Fill) -> Order:
    """An order record for a fill the runtime did not place (found at the broker)."""
    return Order(asset=fill.asset, side=fill.side, quantity=fill.quantity, order_id=fill.order_id)
