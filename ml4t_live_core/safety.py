"""SafeBroker: every order passes validation, the risk-check hooks and the journal before a venue.

It lives on the event loop and owns the runtime's view of the account (the shadow portfolio
in shadow mode, a mirror of the broker's otherwise). It is also the `RiskContext` the checks
read. The strategy thread never touches it directly: it goes through `ThreadSafeBrokerWrapper`.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import logging
import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ml4t.backtest import Fill, Order, OrderSide, OrderStatus, OrderType

from ml4t_live_core.bars import checked_closes
from ml4t_live_core.book import AccountBook
from ml4t_live_core.clock import Clock, trading_day, trading_day_start
from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.errors import BacktestOnlyError, BrokerUnavailableError, RiskLimitError
from ml4t_live_core.journaling import Recorder
from ml4t_live_core.orders import (
    UPDATABLE_FIELDS,
    check_update_fields,
    is_positive_finite,
    updated_remaining,
    validate_order_args,
)
from ml4t_live_core.portfolio import QUANTITY_EPSILON, shrinks_position
from ml4t_live_core.protocols import (
    AccountEvent,
    BrokerAdapter,
    BrokerEvent,
    ConnectionEvent,
    FillEvent,
    OrderStatusEvent,
    SharedOrderLog,
    StateStore,
    TradingStateRecord,
)
from ml4t_live_core.reconcile import ReconciliationReport, reconcile
from ml4t_live_core.risk import OrderRequest, Rejection, TradingState
from ml4t_live_core.state import (
    JournalEvent,
    JournalRecord,
    RiskState,
    counters_after_journal,
    format_client_order_id,
    journal_seq,
)
from ml4t_live_core.stats import RuntimeStats

log = logging.getLogger("ml4t_live.safety")


def default_normalize(asset: str) -> str:
    """Symbols as brokers normalise them: surrounding space removed, upper case."""
    return asset.strip().upper()


class SafeBroker(AccountBook):
    """The safety layer between the strategy and a venue (real broker or shadow portfolio)."""

    def __init__(
        self,
        broker: BrokerAdapter,
        *,
        hooks: Any,
        runtime: RuntimeConfig,
        clock: Clock,
        store: StateStore | None = None,
        shadow_venue: BrokerAdapter | None = None,
        prefix: str = "ml4t",
        normalize: Callable[[str], str] = default_normalize,
        stats: RuntimeStats | None = None,
    ):
        self.broker = broker
        self.venue: BrokerAdapter = shadow_venue if runtime.shadow and shadow_venue else broker
        self.shadow = runtime.shadow
        if self.shadow and shadow_venue is None:
            raise ValueError("shadow mode needs a shadow venue")
        self.hooks = hooks
        self.runtime = runtime
        self.clock = clock
        self.store = store
        self.prefix = prefix
        self._normalize = normalize
        self.stats = stats or RuntimeStats()
        self._tz = ZoneInfo(runtime.timezone)

        AccountBook.__init__(self, runtime.history_limit)
        self.risk_state = RiskState()
        self.connected = False
        self.recorder = Recorder(store, shadow=self.shadow, on_failure=self._persistence_failed)
        self.reconciliation: ReconciliationReport | None = None
        self._seen_trading_record: TradingStateRecord | None = None
        self._last_mark: datetime | None = None
        self._unpriced: set[str] = set()  # assets whose latest bar had no usable close
        # Account-wide order times (every process sharing the store), read before each order
        # once a check asked for them (`watch_account_orders`).
        self._account_window = 0.0
        self._account_orders: list[datetime] | None = None
        self.venue.subscribe(self._on_event)

    # --- start-up --------------------------------------------------------------------------
    async def start(self) -> None:
        """Load persisted state (fail closed), connect, and adopt the venue's account."""
        if self.store is not None:
            await self.store.open()
            loaded = await self.store.load_state()  # raises StateCorruptError: never reset here
            if loaded is not None:
                self.risk_state = loaded
                await self._recount_orders()
            self.recorder.start()
            await self._follow_persisted_trading_state()  # a halt left by `ml4t-live halt` holds
        await self.broker.connect()
        if self.venue is not self.broker:
            await self.venue.connect()
            seed = getattr(self.venue, "seed", None)
            if seed is not None:  # the shadow portfolio starts as a copy of the real account
                seed(await self.broker.get_account(), await self.broker.get_positions())
        self.connected = True
        await self.sync_account()
        # before the first bar: what the journal and the broker disagree on
        if self.store is not None:
            self.reconciliation = await reconcile(self.store, self.broker, shadow=self.shadow)
            self._adopt(self.reconciliation)

    async def _recount_orders(self) -> None:
        """Order counters from the journal of the saved trading day (see
        `counters_after_journal`): a daily order cap must not restart low after a crash."""
        assert self.store is not None
        day = self.risk_state.trading_day
        if day is None:
            return
        starts = self.runtime.trading_day_starts
        records = await self.store.read_journal(since=trading_day_start(day, self._tz, starts))
        if added := counters_after_journal(self.risk_state, records, self.prefix, self._day_of):
            log.warning("%d orders of %s were journaled but not yet counted in the saved state "
                        "(a crash?); counted now", added, day)

    async def sync_account(self) -> None:
        """Replace the mirror with the venue's positions, open orders and account values."""
        positions = await self.venue.get_positions()
        account = await self.venue.get_account()
        self.ledger.replace_holdings(positions)
        self.ledger.cash = account.cash
        self.buying_power = account.buying_power
        self.prices = {
            **{p.asset: p.current_price for p in positions.values() if p.current_price},
            **self.prices,
        }
        for order in await self.venue.get_open_orders():
            self._orders[order.order_id] = order
            self._publish_pending(order)
        self._recompute_exposure()

    async def stop(self) -> None:
        """Flush journal writes, persist the risk state, disconnect."""
        if self._last_mark is not None:  # close the equity curve at the last bar seen
            self._journal_mark(max(self.bar_times.values(), default=self._last_mark))
        self.recorder.write_later(self.risk_state.copy())
        await self.recorder.close()
        if self.store is not None:
            await self.store.close()
        if self.venue is not self.broker:
            await self.venue.disconnect()
        await self.broker.disconnect()
        self.connected = False

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

    async def _read_account_orders(self) -> str | None:
        assert isinstance(self.store, SharedOrderLog)
        since = self.clock.now() - timedelta(seconds=self._account_window)
        try:
            self._account_orders = sorted(await self.store.recent_submissions(since))
        except Exception as exc:  # unknown count: the rate limit cannot be judged, so no order
            self._account_orders = None
            return f"cannot read the account's recent orders ({exc})"
        return None

    async def _follow_or_halt(self) -> str | None:
        """Follow the persisted trading state; if it cannot be read, halt and say why."""
        try:
            await self._follow_persisted_trading_state()
        except Exception as exc:  # an unreadable halt flag: we cannot know, so we do not trade
            self._persistence_failed(exc)
            return f"cannot read the persisted trading state ({exc})"
        return None

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

    # --- market data ------------------------------------------------------------------------
    async def on_bar(self, timestamp: datetime, data: dict[str, dict[str, Any]]) -> None:
        """Let the venue fill against the bar, mark to market, roll the day, run bar hooks."""
        await self.venue.on_bar(timestamp, data)
        if self.venue is not self.broker:
            await self.broker.on_bar(timestamp, data)
        closes = checked_closes(data)
        if closes is not None:  # every close checked in bulk: dict updates, no per-asset pass
            self.prices = {**self.prices, **closes}  # copy-on-write: the strategy thread may read
            self.bar_times.update(dict.fromkeys(closes, timestamp))
            if self._unpriced:
                self._unpriced.difference_update(closes)
        else:
            prices = dict(self.prices)
            times = self.bar_times
            for asset, bar in data.items():
                close = bar.get("close")
                if is_positive_finite(close):
                    prices[asset] = float(close)
                    times[asset] = timestamp
                    self._unpriced.discard(asset)
                elif asset not in self._unpriced:  # once per bad stretch, not on every bar
                    self._unpriced.add(asset)
                    log.warning(
                        "bar %s: %s has no usable close (%r); its last price stays, and the "
                        "stale-data check refuses its orders once that price is too old",
                        timestamp.isoformat(),
                        asset,
                        close,
                    )
            self.prices = prices
        self._recompute_exposure()
        await self._follow_or_halt()
        self._roll_day_and_marks(timestamp)
        self.hooks.ml4t_live_on_bar(timestamp=timestamp, data=data, context=self)
        if (
            self._last_mark is None
            or (timestamp - self._last_mark).total_seconds() >= self.runtime.mark_every_seconds
        ):
            self._journal_mark(timestamp)

    def _journal_mark(self, timestamp: datetime) -> None:
        self._last_mark = timestamp
        self.recorder.write_later(
            JournalRecord(
                timestamp=timestamp,
                event=JournalEvent.MARK,
                shadow=self.shadow,
                detail={
                    "equity": self.equity(),
                    "cash": self.ledger.cash,
                    "gross_exposure": self._gross,
                    "net_exposure": self._net,
                    "positions": len(self.ledger.holdings),
                },
            )
        )

    def _roll_day_and_marks(self, timestamp: datetime) -> None:
        equity = self.equity()
        if not math.isfinite(equity):
            # A NaN/inf must not become the persisted day start or peak (the state would no
            # longer load); the drawdown and daily-loss checks fail closed on it instead.
            return
        state = self.risk_state
        day = self._day_of(timestamp)
        changed = False
        if state.trading_day != day:
            state.trading_day = day
            state.start_of_day_equity = equity
            state.orders_today = 0
            changed = True
        if state.high_water_mark is None or equity > state.high_water_mark:
            state.high_water_mark = equity
            changed = True  # a peak lost in a crash would loosen the drawdown limit after restart
        if changed:
            self.recorder.write_later(state.copy())

    def _day_of(self, timestamp: datetime) -> date:
        return trading_day(timestamp, self._tz, self.runtime.trading_day_starts)

    def _adopt(self, report: ReconciliationReport) -> None:
        """Track the broker's open orders the journal does not know, so they can be cancelled;
        keep the client-order sequence past their ids too."""
        for order in report.adopted:
            if order.order_id not in self._orders:
                self._orders[order.order_id] = order
                self._publish_pending(order)
            seq = journal_seq(order.order_id)
            if (
                seq is not None
                and seq >= self.risk_state.next_client_order_seq
                and order.order_id.startswith(f"{self.prefix}-")
            ):
                self.risk_state.next_client_order_seq = seq + 1

    async def _follow_persisted_trading_state(self) -> None:
        """Pick up a halt/resume written by another process or `ml4t-live halt` (every bar and
        before every order)."""
        if self.store is None:
            return
        record = await self.store.read_trading_state()
        # Act only on a record written since we last looked: an unchanged old ACTIVE flag must
        # never undo a halt this process took itself (persistence failure, a check, or a
        # halt whose own flag write is still queued).
        if record is None or record == self._seen_trading_record:
            return
        first_look = self._seen_trading_record is None
        self._seen_trading_record = record
        if record.state is self.risk_state.trading_state:
            return
        saved_since = self.risk_state.trading_state_since
        if first_look and record.since and saved_since and record.since <= saved_since:
            return  # at start-up, the saved state is newer than the flag: it stands
        log.warning(
            "trading state changed outside this process: %s (%s)", record.state.value, record.reason
        )
        self._apply_trading_state(record.state, record.reason, record.since or self.clock.now())

    # --- RiskContext -------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def trading_state(self) -> TradingState:
        return self.risk_state.trading_state

    def multiplier(self, asset: str) -> float:
        return self.venue.get_multiplier(asset)

    def normalize_asset(self, asset: str) -> str:
        return self._normalize(asset)

    def watch_account_orders(self, seconds: float) -> bool:
        if not isinstance(self.store, SharedOrderLog):
            return False
        self._account_window = max(self._account_window, seconds)
        return True

    def account_orders_within(self, seconds: float) -> int | None:
        orders = self._account_orders
        if orders is None or seconds > self._account_window:
            return None
        # The same window as a local count: an order exactly `seconds` ago has left it.
        left = self.clock.now() - timedelta(seconds=seconds)
        return len(orders) - bisect.bisect_right(orders, left)

    def set_trading_state(self, state: TradingState, reason: str) -> None:
        if state is self.risk_state.trading_state:
            return
        now = self.clock.now()
        self._apply_trading_state(state, reason, now)
        if self.store is not None:
            self.recorder.write_later(TradingStateRecord(state, reason, now))
            self.recorder.write_later(self.risk_state.copy())

    def _apply_trading_state(self, state: TradingState, reason: str, since: datetime) -> None:
        previous = self.risk_state.trading_state
        self.risk_state.trading_state = state
        self.risk_state.trading_state_reason = reason
        self.risk_state.trading_state_since = since
        self.stats.trading_state = state.value
        log.warning("TRADING STATE %s -> %s: %s", previous.value, state.value, reason)
        self.recorder.write_later(self.recorder.state_change_record(state.value, reason, since))

    def _persistence_failed(self, exc: Exception) -> None:
        # A journal or state write failed: we can no longer prove what we did. Stop trading.
        if self.risk_state.trading_state is not TradingState.HALTED:
            self._apply_trading_state(
                TradingState.HALTED, f"persistence failed: {exc}", self.clock.now()
            )

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


def _order_from_fill(fill: Fill) -> Order:
    """An order record for a fill the runtime did not place (found at the broker)."""
    return Order(asset=fill.asset, side=fill.side, quantity=fill.quantity, order_id=fill.order_id)
