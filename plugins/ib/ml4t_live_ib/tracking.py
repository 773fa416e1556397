"""OrderTracker: the adapter's record of its orders, kept current from IB's events.

Keyed by the runtime's client order id (IB `orderRef`). It turns IB order statuses, error
codes, executions and commission reports into `BrokerEvent`s, each terminal status once and
each execution once, and rebinds orders to IB's trades after a reconnect.

Bounded for a process that runs for weeks: every open order is kept with everything known
about it; finished orders (and their execution ids) are kept for the `finished_limit` most
recent, then forgotten. A forgotten order's late events are dropped (see `_forget`).
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable

import ib_async
from ml4t.backtest import Order, OrderStatus

from ml4t_live_core.clock import Clock
from ml4t_live_core.history import DEFAULT_HISTORY_LIMIT
from ml4t_live_core.protocols import BrokerEvent, FillEvent, OrderStatusEvent
from ml4t_live_ib.contracts import ContractCache
from ml4t_live_ib.orders import ACKNOWLEDGED, ORDER_CANCELLED, REJECT_CODES, from_ib_trade, to_fill

log = logging.getLogger(__name__)
DONE_AT_IB = frozenset({"Cancelled", "ApiCancelled", "Inactive"})


class OrderTracker:
    """Orders, their IB trades, and which statuses / executions the runtime has already heard."""

    def __init__(
        self,
        contracts: ContractCache,
        clock: Clock,
        currency: str,
        emit: Callable[[BrokerEvent], None],
        *,
        finished_limit: int = DEFAULT_HISTORY_LIMIT,
        forget_trade: Callable[[ib_async.Trade], None] | None = None,
    ):
        if (
            isinstance(finished_limit, bool)
            or not isinstance(finished_limit, int)
            or finished_limit < 1
        ):
            raise ValueError(f"finished_limit must be a positive integer, got {finished_limit!r}")
        self.contracts = contracts
        self.clock = clock
        self.currency = currency
        self.emit = emit
        self.finished_limit = finished_limit
        #: called with the IB trade of an order being forgotten (the broker drops ib_async's copy)
        self._forget_trade = forget_trade
        self._orders: dict[str, Order] = {}
        self._trades: dict[str, ib_async.Trade] = {}
        self._ref_by_order_id: dict[int, str] = {}
        #: execution ids applied (or taken as history), per tracked order: they leave with it
        self._executions: dict[str, set[str]] = {}
        self._acknowledged: set[str] = set()
        self._cancel_requested: set[str] = set()
        #: finished orders, oldest first; beyond `finished_limit` the oldest is forgotten
        self._final: OrderedDict[str, None] = OrderedDict()
        #: the `finished_limit` most recently forgotten orders, to log (not adopt) their echoes
        self._forgotten: OrderedDict[str, None] = OrderedDict()
        #: orders with a modification in flight -> the record before it (restored if IB refuses)
        self._modifying: dict[str, Order] = {}

    # --- records -----------------------------------------------------------------------

    def known(self, ref: str) -> Order | None:
        order = self._orders.get(ref)
        return copy.copy(order) if order is not None else None

    def record(self, order: Order) -> None:
        """Track an order before it is sent, so a reply can never outrun its record."""
        mine = copy.copy(order)
        mine.status = OrderStatus.PENDING
        self._orders[order.order_id] = mine

    def bind(self, ref: str, trade: ib_async.Trade) -> None:
        self._trades[ref] = trade
        self._ref_by_order_id[trade.order.orderId] = ref

    def working_trade(self, ref: str) -> ib_async.Trade | None:
        """The IB trade of an order that can still be cancelled or modified.

        Our record decides, not ib_async's: ib_async marks a trade Cancelled when IB refuses a
        *modification*, although IB keeps working the original order.
        """
        trade = self._trades.get(ref)
        order = self._orders.get(ref)
        if (
            trade is None
            or order is None
            or ref in self._final
            or order.status is not OrderStatus.PENDING
        ):
            return None
        return trade

    def begin_modify(self, ref: str, updated: Order) -> None:
        self._modifying[ref] = self._orders[ref]
        self._orders[ref] = updated

    def is_final(self, ref: str) -> bool:
        return ref in self._final

    def tracks(self, ref: str) -> bool:
        """True while the order is kept (open, or among the most recently finished)."""
        return ref in self._orders

    def forgotten(self, ref: str) -> bool:
        """True for an order finished and dropped recently (within the last `finished_limit`)."""
        return ref in self._forgotten

    def sizes(self) -> dict[str, int]:
        """How much is kept per order right now (for tests and status)."""
        return {
            "orders": len(self._orders),
            "trades": len(self._trades),
            "order_ids": len(self._ref_by_order_id),
            "execution_ids": sum(map(len, self._executions.values())),
            "acknowledged": len(self._acknowledged),
            "cancel_requested": len(self._cancel_requested),
            "finished": len(self._final),
            "forgotten": len(self._forgotten),
        }

    def order(self, ref: str) -> Order:
        return self._orders[ref]

    def request_cancel(self, ref: str) -> None:
        self._cancel_requested.add(ref)

    def open_orders(self) -> list[Order]:
        return [
            copy.copy(o)
            for ref, o in self._orders.items()
            if o.status is OrderStatus.PENDING and ref not in self._final
        ]

    # --- IB events ---------------------------------------------------------------------

    def on_order_status(self, trade: ib_async.Trade) -> None:
        ref = trade.order.orderRef
        if ref not in self._orders or ref in self._final:
            if ref in self._forgotten:
                log.debug(
                    "order %s: status %s ignored (finished, no longer tracked)",
                    ref,
                    trade.orderStatus.status,
                )
            return
        status = trade.orderStatus.status
        if status in ACKNOWLEDGED:
            self._modifying.pop(ref, None)  # IB confirmed the modification
            if ref in self._acknowledged:
                return  # IB repeats Submitted with every partial fill; the runtime hears it once
            self._acknowledged.add(ref)
            broker_id = str(trade.order.permId or trade.order.orderId)
            self.emit(
                OrderStatusEvent(
                    ref, OrderStatus.PENDING, self.clock.now(), broker_order_id=broker_id
                )
            )
        elif status in DONE_AT_IB and not _last_error_code(trade):
            self.finish(
                ref,
                OrderStatus.REJECTED if status == "Inactive" else OrderStatus.CANCELLED,
                "IB reports the order Inactive" if status == "Inactive" else "cancelled",
            )
        # done after an error: on_error decides, it has IB's code and text

    def on_error(self, req_id: int, code: int, text: str) -> None:
        ref = self._ref_by_order_id.get(req_id)
        if ref is None or ref in self._final:
            return
        trade, order = self._trades[ref], self._orders[ref]
        reason = f"IB error {code}: {text}"
        previous = self._modifying.pop(ref, None)
        if previous is not None and code != ORDER_CANCELLED:
            # a refused modification: the original order still works at IB, unchanged
            previous.filled_quantity, previous.filled_price = (
                order.filled_quantity,
                order.filled_price,
            )
            self._orders[ref] = previous
            log.warning(
                "order %s: modification refused, original order still working: %s", ref, reason
            )
            return
        if code in REJECT_CODES:
            self.finish(ref, OrderStatus.REJECTED, reason)
        elif code == ORDER_CANCELLED or trade.orderStatus.status in DONE_AT_IB:
            was_working = (
                ref in self._acknowledged
                or ref in self._cancel_requested
                or order.filled_quantity > 0
            )
            self.finish(ref, OrderStatus.CANCELLED if was_working else OrderStatus.REJECTED, reason)
        else:
            log.warning("order %s: %s (order still working at IB)", ref, reason)

    def seen(self, fill: ib_async.Fill) -> bool:
        """True if the execution needs no report: already applied, or not a tracked order's."""
        ref = fill.execution.orderRef
        return ref not in self._orders or fill.execution.execId in self._executions.get(ref, ())

    def on_execution(self, fill: ib_async.Fill) -> None:
        ref = fill.execution.orderRef
        exec_id = fill.execution.execId
        if ref not in self._orders:
            # an order never ours, or one finished and forgotten: see `_forget` for why its
            # executions were all applied already
            if ref in self._forgotten:
                log.debug(
                    "execution %s of finished order %s ignored (no longer tracked)", exec_id, ref
                )
            return
        seen = self._executions.setdefault(ref, set())
        if exec_id in seen:
            return
        seen.add(exec_id)
        order = self._orders[ref]
        ml4t_fill = to_fill(
            order, fill, multiplier=self.contracts.multiplier(order.asset), currency=self.currency
        )
        order.filled_quantity = float(fill.execution.cumQty)
        order.filled_price = float(fill.execution.avgPrice)
        complete = order.filled_quantity >= order.quantity - 1e-9
        if complete:
            order.status, order.filled_at = OrderStatus.FILLED, ml4t_fill.timestamp
            self._mark_final(ref)  # the newest finished order: never the one forgotten
        self.emit(FillEvent(ml4t_fill, order_complete=complete, execution_id=exec_id))

    def finish(self, ref: str, status: OrderStatus, reason: str) -> None:
        if ref in self._final:
            return
        self._mark_final(ref)
        order = self._orders[ref]
        order.status = status
        if status is OrderStatus.REJECTED:
            order.rejection_reason = reason
        else:
            order.cancelled_at, order.cancellation_reason = self.clock.now(), reason
        self.emit(OrderStatusEvent(ref, status, self.clock.now(), reason=reason))

    def _mark_final(self, ref: str) -> None:
        if ref in self._final:
            return
        self._final[ref] = None
        while len(self._final) > self.finished_limit:
            oldest, _ = self._final.popitem(last=False)
            self._forget(oldest)

    def _forget(self, ref: str) -> None:
        """Drop a finished order that `finished_limit` later orders have followed.

        Its later echoes are harmless because every path ignores an untracked orderRef:
        statuses and errors (no record to change), executions (by orderRef, not by execution
        id, so none is counted twice) and reconciliation (never adopted: IB lists only working
        orders as open, and one recently forgotten is refused outright). IB replays executions
        on every reconnect and reqExecutions, but only the current day's (TWS can keep up to a
        week), so what is replayed is what was applied when the order was tracked. A fill
        applied only now would need IB to report an execution of a filled or cancelled order
        after `finished_limit` later orders finished; it is dropped, and the position sync
        after a reconnect shows it.
        """
        self._orders.pop(ref, None)
        self._executions.pop(ref, None)
        self._acknowledged.discard(ref)
        self._cancel_requested.discard(ref)
        self._modifying.pop(ref, None)
        trade = self._trades.pop(ref, None)
        if trade is not None:
            if self._ref_by_order_id.get(trade.order.orderId) == ref:
                del self._ref_by_order_id[trade.order.orderId]
            if self._forget_trade is not None:
                self._forget_trade(trade)
        self._forgotten[ref] = None
        if len(self._forgotten) > self.finished_limit:
            self._forgotten.popitem(last=False)

    # --- after (re)connecting ------------------------------------------------------------

    def reconcile(
        self,
        open_trades: Iterable[ib_async.Trade],
        fills: Iterable[ib_async.Fill],
        done_trades: Iterable[ib_async.Trade] = (),
        *,
        initial: bool,
    ) -> None:
        """Rebind open orders by orderRef, adopt unknown ones, replay executions not yet seen.

        On the first connect the account's earlier executions are history (positions already
        hold them) and are only marked seen; after a reconnect the unseen ones are fills. An
        order of ours that IB neither works nor filled is reported, never resent: cancelled if
        IB's completed orders say so, rejected if IB has no record of it at all.
        """
        fills = sorted(fills, key=lambda f: f.execution.time)
        history: dict[str, set[str]] = {}
        if initial:
            for f in fills:
                history.setdefault(f.execution.orderRef, set()).add(f.execution.execId)
        open_refs: set[str] = set()
        for trade in open_trades:
            ref = trade.order.orderRef
            if not ref:
                continue  # a manual TWS order: not the runtime's to manage
            if ref in self._forgotten:
                log.warning(
                    "order %s: IB lists it open, but it finished here and is no longer "
                    "tracked; not adopted (check it in TWS, cancel it there if unwanted)",
                    ref,
                )
                continue
            open_refs.add(ref)
            if ref not in self._orders:
                self._orders[ref] = from_ib_trade(
                    trade, self.contracts.asset_of(trade.contract), self.clock.now()
                )
            self.bind(ref, trade)
            if trade.orderStatus.status in ACKNOWLEDGED:
                self._acknowledged.add(ref)
        # only tracked orders' history is kept: other executions are ignored by orderRef anyway
        for ref, exec_ids in history.items():
            if ref in self._orders:
                self._executions.setdefault(ref, set()).update(exec_ids)
        ignored = sum(1 for f in fills if f.execution.orderRef in self._forgotten)
        if ignored:
            log.info(
                "%d replayed executions of finished, no longer tracked orders ignored", ignored
            )
        for fill in fills:
            self.on_execution(fill)
        done = {t.order.orderRef: t for t in done_trades if t.order.orderRef}
        for ref, order in list(self._orders.items()):
            if ref in open_refs or ref in self._final or order.status is not OrderStatus.PENDING:
                continue
            completed = done.get(ref)
            if completed is None:
                self.finish(
                    ref,
                    OrderStatus.REJECTED,
                    "IB has no record of this order (never received); not resent",
                )
            elif completed.orderStatus.status == "Inactive":
                self.finish(
                    ref, OrderStatus.REJECTED, "IB reports the order Inactive (while disconnected)"
                )
            else:
                self.finish(ref, OrderStatus.CANCELLED, "cancelled at IB while disconnected")


def _last_error_code(trade: ib_async.Trade) -> int:
    """The error code of the event that produced the latest status (0 for a plain status)."""
    return trade.log[-1].errorCode if trade.log else 0
