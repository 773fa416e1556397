"""The order path of SafeBroker: validate, run the risk checks, journal durably, then send.

New orders, native brackets, updates and cancels, and how a rejection (by a check, the journal
or the broker's answer) is recorded. No venue sees an order before its journal record is
durable; every venue call is bounded by `[runtime] order_timeout`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType

from ml4t_live_core.book import AccountBook
from ml4t_live_core.clock import Clock
from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.errors import BacktestOnlyError, BrokerUnavailableError, RiskLimitError
from ml4t_live_core.journaling import Recorder
from ml4t_live_core.orders import (
    UPDATABLE_FIELDS,
    check_update_fields,
    updated_remaining,
    validate_order_args,
)
from ml4t_live_core.portfolio import shrinks_position
from ml4t_live_core.protocols import BrokerAdapter
from ml4t_live_core.risk import OrderRequest, Rejection
from ml4t_live_core.state import JournalEvent, RiskState, format_client_order_id
from ml4t_live_core.stats import RuntimeStats

log = logging.getLogger("ml4t_live.safety")  # one logging component for the safety layer


class SafetyOrders(AccountBook):
    """Mixin of `SafeBroker`: every order call, from arguments to the venue's answer."""

    # Set by `SafeBroker.__init__`.
    venue: BrokerAdapter
    hooks: Any
    runtime: RuntimeConfig
    clock: Clock
    prefix: str
    stats: RuntimeStats
    connected: bool
    recorder: Recorder
    risk_state: RiskState
    _normalize: Callable[[str], str]
    _account_window: float

    if TYPE_CHECKING:  # defined by `SafetyState` and `SafetyEvents`

        async def _follow_or_halt(self) -> str | None: ...

        async def _read_account_orders(self) -> str | None: ...

        def _broker_rejected(self, order: Order, reason: str) -> None: ...

    # --- orders ----------------------------------------------------------------------------
    async def submit_order(
        self,
        asset: str,
        quantity: float,
        side: OrderSide | None = None,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_amount: float | None = None,
        *,
        rebalance_id: str | None = None,
        is_close: bool = False,
    ) -> Order:
        """Validate, check, journal and send one order. Returns the order (REJECTED or PENDING)."""
        order, request = self._prepare(
            asset,
            quantity,
            side,
            order_type,
            limit_price,
            stop_price,
            trail_amount,
            rebalance_id=rebalance_id,
            is_close=is_close,
        )
        rejections = await self._check_fresh(request)
        if rejections:
            return await self._reject(order, rejections)
        try:
            await self._accept(order, request)
        except Exception as exc:  # the journal cannot prove the order: it must not be sent
            return await self._reject(
                order,
                [Rejection("journal", f"could not record the order durably ({exc}); not sent")],
            )
        try:
            result = await asyncio.wait_for(
                self.venue.submit_order(copy.copy(order)), self.runtime.order_timeout
            )
        except TimeoutError:
            # The order may exist at the broker; it keeps its id and reconciliation decides.
            log.warning(
                "order %s: no acknowledgement within %.1fs",
                order.order_id,
                self.runtime.order_timeout,
                extra={"order_id": order.order_id, "asset": order.asset},
            )
            return copy.copy(order)
        except BrokerUnavailableError as exc:
            self._remove_pending(order)
            return await self._reject(order, [Rejection("broker", str(exc))])
        self._absorb_result(order, result)
        return copy.copy(order)

    async def submit_bracket(
        self,
        asset: str,
        quantity: float,
        take_profit: float,
        stop_loss: float,
        entry_type: OrderType = OrderType.MARKET,
        entry_limit: float | None = None,
    ) -> tuple[Order, Order, Order] | None:
        """Entry plus take-profit (limit) and stop-loss (stop) children, as the venue's native
        bracket: children activate when the entry fills and cancel each other (OCO).

        The risk checks decide on the entry; the children only ever close what it opens.
        Returns None when the entry is rejected (the reason is in `last_rejection_reason`).
        """
        native = getattr(self.venue, "submit_bracket", None)
        if native is None:
            raise BacktestOnlyError(
                "submit_bracket", f"broker {self.venue.name!r} has no native bracket orders"
            )
        entry, request = self._prepare(asset, quantity, None, entry_type, entry_limit, None, None)
        exit_side = OrderSide.SELL if entry.side is OrderSide.BUY else OrderSide.BUY
        tp, _ = self._prepare(
            asset,
            entry.quantity,
            exit_side,
            OrderType.LIMIT,
            take_profit,
            None,
            None,
            parent_id=entry.order_id,
        )
        sl, _ = self._prepare(
            asset,
            entry.quantity,
            exit_side,
            OrderType.STOP,
            None,
            stop_loss,
            None,
            parent_id=entry.order_id,
        )
        rejections = await self._check_fresh(request)
        if rejections:
            await self._reject(entry, rejections)
            return None
        try:
            for order, order_request in ((entry, request), (tp, None), (sl, None)):
                await self._accept(order, order_request)
        except Exception as exc:
            for order in (entry, tp, sl):
                if self._orders.pop(order.order_id, None) is not None:
                    self._remove_pending(order)
            await self._reject(
                entry,
                [Rejection("journal", f"could not record the bracket durably ({exc}); not sent")],
            )
            return None
        try:
            results = await asyncio.wait_for(
                native(copy.copy(entry), copy.copy(tp), copy.copy(sl)), self.runtime.order_timeout
            )
        except TimeoutError:
            log.warning(
                "bracket %s: no acknowledgement within %.1fs",
                entry.order_id,
                self.runtime.order_timeout,
                extra={"order_id": entry.order_id, "asset": entry.asset},
            )
            return copy.copy(entry), copy.copy(tp), copy.copy(sl)
        for mine, theirs in zip((entry, tp, sl), results, strict=True):
            self._absorb_result(mine, theirs)
        return copy.copy(entry), copy.copy(tp), copy.copy(sl)

    def _prepare(
        self,
        asset: Any,
        quantity: Any,
        side: Any,
        order_type: Any,
        limit_price: Any,
        stop_price: Any,
        trail_amount: Any,
        *,
        rebalance_id: str | None = None,
        parent_id: str | None = None,
        is_close: bool = False,
    ) -> tuple[Order, OrderRequest]:
        """Validate arguments (ValueError), assign the idempotent client order id, describe it."""
        asset, qty, side = validate_order_args(
            asset, quantity, side, order_type, limit_price, stop_price, trail_amount
        )
        asset = self._normalize(asset)
        now = self.clock.now()
        client_id = self._next_client_order_id()
        held = self.ledger.quantity(asset)
        signed = qty if side is OrderSide.BUY else -qty
        reduces = shrinks_position(held, signed, self._pending_qty.get((asset, side), 0.0))
        order = Order(
            asset=asset,
            side=side,
            quantity=qty,
            order_type=order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            trail_amount=trail_amount,
            parent_id=parent_id,
            rebalance_id=rebalance_id,
            order_id=client_id,
            created_at=now,
        )
        request = OrderRequest(
            asset=asset,
            side=side,
            quantity=qty,
            order_type=order_type,
            timestamp=now,
            client_order_id=client_id,
            limit_price=limit_price,
            stop_price=stop_price,
            trail_amount=trail_amount,
            position_quantity=held,
            reduces_position=reduces,
            is_close=is_close,
        )
        return order, request

    def _check(self, request: OrderRequest) -> list[Rejection]:
        """Every check's objection (all of them, not just the first), plus connectivity."""
        rejections = [r for r in self.hooks.ml4t_live_check_order(order=request, context=self) if r]
        if not self.connected or not self.venue.is_connected:
            rejections.append(Rejection("connection", "broker is disconnected; order not sent"))
        return rejections

    async def _check_fresh(self, request: OrderRequest) -> list[Rejection]:
        """`_check` after following the persisted trading state, so a halt written by another
        process since the last bar stops this order (the read is cheap: see the backends)."""
        problem = await self._follow_or_halt()
        if problem is None and self._account_window:
            problem = await self._read_account_orders()
        if problem is not None:
            return [*self._check(request), Rejection("state", f"{problem}; not sent")]
        return self._check(request)

    async def _accept(self, order: Order, request: OrderRequest | None) -> None:
        """Count the order, journal it durably, then track it; only then may a venue see it."""
        if request is not None:
            self.hooks.ml4t_live_on_order_accepted(order=request, context=self)
        await self._journal(order, JournalEvent.SUBMITTED)  # durable before any venue sees it
        self._orders[order.order_id] = order
        self._add_pending(order)
        self.risk_state.orders_today += 1
        self.risk_state.orders_total += 1
        self.stats.orders_submitted += 1

    def _absorb_result(self, order: Order, result: Order) -> None:
        if result.status is OrderStatus.REJECTED and order.status is not OrderStatus.REJECTED:
            self._broker_rejected(order, result.rejection_reason or "rejected by broker")

    async def cancel_order(self, order_id: str) -> bool:
        order = self._orders.get(order_id)
        if order is None or order.status is not OrderStatus.PENDING:
            return False
        return await asyncio.wait_for(self.venue.cancel_order(order_id), self.runtime.order_timeout)

    async def update_order(self, order_id: str, **changes: Any) -> bool:
        """Change a working order as ml4t-backtest 0.2 does: `quantity` is the new *remaining*
        quantity. The venue is sent the new total (filled + remaining), the protocol's meaning;
        an unknown or finished order gives False, a field that cannot change a ValueError."""
        check_update_fields(changes)
        order = self._orders.get(order_id)
        if order is None or order.status is not OrderStatus.PENDING:
            return False
        remaining = updated_remaining(order, changes)
        prices = {f: changes.get(f, getattr(order, f)) for f in UPDATABLE_FIELDS - {"quantity"}}
        validate_order_args(
            order.asset,
            remaining,
            order.side,
            order.order_type,
            prices["limit_price"],
            prices["stop_price"],
            prices["trail_amount"],
        )
        filled = order.filled_quantity
        held = self.ledger.quantity(order.asset)  # already holds the filled part
        # Still reducing after the change (REDUCING lets it through): this order's new remainder
        # plus the other working orders on its side never exceed the position against them.
        working = self._pending_qty.get((order.asset, order.side), 0.0)
        others = working - (order.quantity - filled)
        signed = remaining if order.side is OrderSide.BUY else -remaining
        reduces = shrinks_position(held, signed, others)
        request = OrderRequest(  # the checks see what may still fill: the new remainder
            asset=order.asset,
            side=order.side,
            quantity=remaining,
            order_type=order.order_type,
            timestamp=self.clock.now(),
            client_order_id=order_id,
            limit_price=prices["limit_price"],
            stop_price=prices["stop_price"],
            trail_amount=prices["trail_amount"],
            position_quantity=held,
            reduces_position=reduces,
            is_update=True,
        )
        rejections = await self._check_fresh(request)
        if rejections:
            reasons = tuple(map(str, rejections))
            self.last_rejection_reason = "; ".join(reasons)
            detail = _update_detail(changes, filled, remaining)
            self._journal_later(order, JournalEvent.REJECTED, reasons=reasons, detail=detail)
            if self.runtime.raise_on_rejection:
                raise RiskLimitError(order.asset, rejections)
            return False
        filled = order.filled_quantity  # fills may have arrived while the checks ran
        total = filled + remaining
        venue_changes = {**changes, "quantity": total} if "quantity" in changes else changes
        modified = self.venue.modify_order(order_id, **venue_changes)
        if not await asyncio.wait_for(modified, self.runtime.order_timeout):
            return False
        self._remove_pending(order)
        for name, value in venue_changes.items():
            setattr(order, name, value)
        self._add_pending(order)
        await self._journal(
            order, JournalEvent.MODIFIED, detail=_update_detail(changes, filled, remaining)
        )
        return True

    def _next_client_order_id(self) -> str:
        seq = self.risk_state.next_client_order_seq
        self.risk_state.next_client_order_seq = seq + 1
        return format_client_order_id(self.prefix, seq)

    async def _reject(self, order: Order, rejections: list[Rejection]) -> Order:
        reasons = tuple(str(r) for r in rejections)
        order.reject("; ".join(reasons), "risk_check")
        self.rejected.append(copy.copy(order))
        self.history.finished(order)  # tracked only if it was accepted (broker unavailable)
        self.last_rejection_reason = order.rejection_reason
        self.stats.orders_rejected += 1
        for rejection in rejections:
            self.stats.rejections_by_check[rejection.check] = (
                self.stats.rejections_by_check.get(rejection.check, 0) + 1
            )
        log.info(
            "order rejected: %s %s %s (%s)",
            order.side.name,
            order.quantity,
            order.asset,
            order.rejection_reason,
            extra={"order_id": order.order_id, "asset": order.asset},
        )
        self._journal_later(order, JournalEvent.REJECTED, reasons=reasons)
        if self.runtime.raise_on_rejection:
            raise RiskLimitError(order.asset, rejections)
        return copy.copy(order)

    # --- journal records of orders ----------------------------------------------------------
    def _journal_later(self, order: Order, event: JournalEvent, **kwargs: Any) -> None:
        self.recorder.write_later(
            self.recorder.order_record(order, event, self.clock.now(), **kwargs)
        )

    async def _journal(self, order: Order, event: JournalEvent, **kwargs: Any) -> None:
        await self.recorder.write(
            self.recorder.order_record(order, event, self.clock.now(), **kwargs)
        )


def _update_detail(changes: dict[str, Any], filled: float, remaining: float) -> dict[str, Any]:
    """The journal's account of an update: the strategy's quantity is a remaining quantity, so
    it is recorded under that name, beside the filled and total quantities it implies."""
    asked = {("remaining_quantity" if k == "quantity" else k): v for k, v in changes.items()}
    return {
        "update": asked,
        "filled_quantity": filled,
        "remaining_quantity": remaining,
        "total_quantity": filled + remaining,
    }
