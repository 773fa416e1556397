"""A simulated execution venue: the shadow portfolio in core and the sim broker plugin.

It implements the async `BrokerAdapter` protocol over a `Portfolio`: market orders fill
either at the next bar's open (a paper broker) or at the latest price seen (shadow mode),
resting limit/stop/trailing orders fill when a later bar trades through them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ml4t.backtest import Fill, Order, OrderSide, OrderStatus, OrderType, Position

from ml4t_live_core.clock import Clock, SystemClock
from ml4t_live_core.orders import match_price, update_trailing_stop
from ml4t_live_core.portfolio import Portfolio
from ml4t_live_core.protocols import (
    AccountEvent,
    AccountSnapshot,
    BrokerEvent,
    EventHandler,
    FillEvent,
    OrderStatusEvent,
)

FillTiming = Literal["next_open", "last_price"]


@dataclass(frozen=True, slots=True)
class Costs:
    """Commission (per share, percent of notional, minimum) and adverse slippage in bps."""

    per_share: float = 0.0
    percent: float = 0.0
    minimum: float = 0.0
    slippage_bps: float = 0.0

    def commission(self, quantity: float, price: float, multiplier: float) -> float:
        fee = quantity * self.per_share + quantity * price * multiplier * self.percent
        return max(fee, self.minimum) if fee > 0 or self.minimum > 0 else 0.0

    def slipped(self, price: float, side: OrderSide) -> float:
        bump = price * self.slippage_bps / 10_000
        return price + bump if side is OrderSide.BUY else price - bump


class SimulatedVenue:
    """An in-process broker: fills against bars it is shown, books into a `Portfolio`."""

    def __init__(
        self,
        *,
        initial_cash: float = 100_000.0,
        fill_timing: FillTiming = "next_open",
        costs: Costs | None = None,
        multipliers: dict[str, float] | None = None,
        allow_short: bool = True,
        clock: Clock | None = None,
        name: str = "simulated",
    ):
        self.name = name
        self.portfolio = Portfolio(initial_cash)
        self.fill_timing = fill_timing
        self.costs = costs or Costs()
        self.multipliers = dict(multipliers or {})
        self.allow_short = allow_short
        self.clock = clock or SystemClock()
        self._handlers: list[EventHandler] = []
        self._resting: dict[str, Order] = {}
        #: Bracket children waiting for their entry (parent id -> children).
        self._waiting: dict[str, list[Order]] = {}
        self._prices: dict[str, float] = {}
        self._connected = False
        self._fill_seq = 0

    # --- connection and events ---------------------------------------------------------
    async def connect(self) -> None:
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False

    @property
    def is_connected(self) -> bool:
        return self._connected

    def subscribe(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def _emit(self, event: BrokerEvent) -> None:
        for handler in self._handlers:
            handler(event)

    def seed(self, account: AccountSnapshot, positions: dict[str, Position]) -> None:
        """Start from a copy of another account (shadow mode mirrors the real one)."""
        self.portfolio.cash = account.cash
        self.portfolio.replace_holdings(positions)
        for position in positions.values():
            if position.current_price:
                self._prices.setdefault(position.asset, position.current_price)

    # --- queries -----------------------------------------------------------------------
    async def get_positions(self) -> dict[str, Position]:
        return {a: h.to_position(self._prices.get(a)) for a, h in self.portfolio.holdings.items()}

    async def get_open_orders(self) -> list[Order]:
        return [copy.copy(order) for order in self._resting.values()]

    async def get_account(self) -> AccountSnapshot:
        return self._snapshot()

    def _snapshot(self) -> AccountSnapshot:
        equity = self.portfolio.equity(self._prices)
        cash = self.portfolio.cash
        return AccountSnapshot(cash=cash, equity=equity, buying_power=max(cash, 0.0))

    def get_multiplier(self, asset: str) -> float:
        return self.multipliers.get(asset, 1.0)

    def last_price(self, asset: str) -> float | None:
        return self._prices.get(asset)

    # --- orders --------------------------------------------------------------------------
    async def submit_order(self, order: Order) -> Order:
        if order.order_id in self._resting:  # idempotent: a retry with the same id is a no-op
            return copy.copy(self._resting[order.order_id])
        order = copy.copy(order)
        self._emit(OrderStatusEvent(order.order_id, OrderStatus.PENDING, self.clock.now()))
        if self.fill_timing == "last_price":
            price = self._prices.get(order.asset)
            if price is not None:
                update_trailing_stop(order, {"close": price, "high": price, "low": price})
                fill_at = match_price(order, {"open": price, "high": price, "low": price})
                if fill_at is not None:
                    return self._fill(order, fill_at, self.clock.now())
        if order.order_type is OrderType.MARKET and self.fill_timing == "last_price":
            order.reject(f"no market price known for {order.asset}", "price_unavailable")
            self._emit(
                OrderStatusEvent(
                    order.order_id, OrderStatus.REJECTED, self.clock.now(), order.rejection_reason
                )
            )
            return order
        self._resting[order.order_id] = order
        return copy.copy(order)

    async def submit_bracket(
        self, entry: Order, take_profit: Order, stop_loss: Order
    ) -> tuple[Order, Order, Order]:
        """A native bracket: children rest only once the entry fills, and cancel each other."""
        children = [copy.copy(take_profit), copy.copy(stop_loss)]
        self._waiting[entry.order_id] = children
        for child in children:
            self._emit(OrderStatusEvent(child.order_id, OrderStatus.PENDING, self.clock.now()))
        entry_result = await self.submit_order(entry)
        if entry_result.status is OrderStatus.REJECTED:
            for child in self._waiting.pop(entry.order_id, []):
                self._cancel(child, "bracket entry rejected")
        return entry_result, copy.copy(children[0]), copy.copy(children[1])

    async def cancel_order(self, client_order_id: str) -> bool:
        order = self._resting.pop(client_order_id, None)
        if order is None:
            order = self._pop_waiting_child(client_order_id)
        if order is None:
            return False
        self._cancel(order, "cancelled")
        for child in self._waiting.pop(client_order_id, []):
            self._cancel(child, "bracket entry cancelled")
        return True

    def _cancel(self, order: Order, reason: str) -> None:
        order.status = OrderStatus.CANCELLED
        self._emit(
            OrderStatusEvent(order.order_id, OrderStatus.CANCELLED, self.clock.now(), reason)
        )

    def _pop_waiting_child(self, client_order_id: str) -> Order | None:
        for children in self._waiting.values():
            for child in children:
                if child.order_id == client_order_id:
                    children.remove(child)
                    return child
        return None

    def _after_fill(self, order: Order) -> None:
        """Activate a filled entry's children; a filled child cancels its siblings (OCO)."""
        for child in self._waiting.pop(order.order_id, []):
            self._resting[child.order_id] = child
        if order.parent_id is not None:
            for sibling in [o for o in self._resting.values() if o.parent_id == order.parent_id]:
                del self._resting[sibling.order_id]
                self._cancel(sibling, f"OCO: {order.order_id} filled")

    async def modify_order(self, client_order_id: str, **changes: float) -> bool:
        order = self._resting.get(client_order_id)
        if order is None:
            return False
        for field_name, value in changes.items():
            setattr(order, field_name, value)
        return True

    async def close_position(self, asset: str) -> Order | None:
        qty = self.portfolio.quantity(asset)
        if qty == 0:
            return None
        side = OrderSide.SELL if qty > 0 else OrderSide.BUY
        self._fill_seq += 1
        order = Order(asset, side, abs(qty), order_id=f"{self.name}-close-{self._fill_seq}")
        return await self.submit_order(order)

    # --- market data -------------------------------------------------------------------
    async def on_bar(self, timestamp: datetime, data: dict[str, dict[str, Any]]) -> None:
        """Fill resting orders against this bar, then remember its closes as the last prices."""
        if self._resting:
            for order in list(self._resting.values()):
                bar = data.get(order.asset)
                if bar is None:
                    continue
                price = match_price(order, bar)
                if price is not None:
                    del self._resting[order.order_id]
                    self._fill(order, price, timestamp)
                else:
                    update_trailing_stop(order, bar)
        for asset, bar in data.items():
            close = bar.get("close")
            if close is not None and math.isfinite(close):
                self._prices[asset] = float(close)

    def _fill(self, order: Order, price: float, when: datetime) -> Order:
        multiplier = self.get_multiplier(order.asset)
        price = self.costs.slipped(price, order.side)
        commission = self.costs.commission(order.quantity, price, multiplier)
        reason = self._refuse(order, price, multiplier, commission)
        if reason:
            order.reject(reason, "insufficient_cash" if "cash" in reason else "account_restriction")
            self._emit(OrderStatusEvent(order.order_id, OrderStatus.REJECTED, when, reason))
            return order
        self._fill_seq += 1
        fill = Fill(
            order_id=order.order_id,
            asset=order.asset,
            side=order.side,
            quantity=order.quantity,
            price=price,
            timestamp=when,
            commission=commission,
            order_type=order.order_type.value,
            multiplier=multiplier,
        )
        self.portfolio.apply_fill(fill, multiplier)
        order.status = OrderStatus.FILLED
        order.filled_at, order.filled_price, order.filled_quantity = when, price, order.quantity
        order.commission_paid = commission
        self._emit(
            FillEvent(fill, order_complete=True, execution_id=f"{self.name}-x{self._fill_seq}")
        )
        self._emit(AccountEvent(self._snapshot()))
        self._after_fill(order)
        return copy.copy(order)

    def _refuse(
        self, order: Order, price: float, multiplier: float, commission: float
    ) -> str | None:
        held = self.portfolio.quantity(order.asset)
        if order.side is OrderSide.BUY and held >= 0:
            cost = order.quantity * price * multiplier + commission
            if cost > self.portfolio.cash + 1e-9:
                return f"Insufficient cash: need {cost:,.2f}, have {self.portfolio.cash:,.2f}"
        if order.side is OrderSide.SELL and not self.allow_short and order.quantity > held + 1e-9:
            return f"short selling not allowed: selling {order.quantity} with {held} held"
        return None
