"""The simulated Alpaca account: cash, positions, and an order book that fills against prices.

Pure logic, no network: the server turns what it returns into REST answers and trade updates.
Every change returns the trade-update events it caused, in order, as `TradeEvent`s.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ml4t_live_core.clock import Clock, SystemClock

OPEN_STATUSES = {"new", "accepted", "pending_new", "partially_filled"}
ORDER_TYPES = {"market", "limit", "stop", "stop_limit", "trailing_stop"}
TIME_IN_FORCE = {"day", "gtc", "opg", "cls", "ioc", "fok"}
EPSILON = 1e-9


class SimRejection(Exception):
    """An order request Alpaca would refuse: the HTTP status, Alpaca's error code and message."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(slots=True)
class SimOrder:
    """One order as Alpaca keeps it (quantities as floats; the wire uses strings)."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    time_in_force: str
    created_at: datetime
    limit_price: float | None = None
    stop_price: float | None = None
    trail_price: float | None = None
    trail_percent: float | None = None
    hwm: float | None = None
    status: str = "new"
    filled_qty: float = 0.0
    filled_avg_price: float | None = None
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    failed_at: datetime | None = None
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    stop_triggered: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> float:
        return max(self.qty - self.filled_qty, 0.0)


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A trade update to stream: event name, the order after it, and execution details."""

    event: str
    order: SimOrder
    timestamp: datetime
    price: float | None = None
    qty: float | None = None
    position_qty: float | None = None
    execution_id: str | None = None


@dataclass(slots=True)
class SimPosition:
    qty: float = 0.0
    avg_entry_price: float = 0.0


@dataclass
class SimAccount:
    """Cash, positions, last prices and every order ever placed (Alpaca keeps them all)."""

    cash: float = 100_000.0
    clock: Clock = field(default_factory=SystemClock)
    auto_fill: bool = True
    allow_short: bool = True
    positions: dict[str, SimPosition] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    by_client_id: dict[str, str] = field(default_factory=dict)
    #: How many of the next orders to accept, then reject by a "rejected" trade update.
    reject_next: int = 0

    # --- queries ---------------------------------------------------------------------------
    def equity(self) -> float:
        return self.cash + sum(
            p.qty * self.prices.get(s, p.avg_entry_price) for s, p in self.positions.items()
        )

    def order(self, order_id: str) -> SimOrder:
        try:
            return self.orders[order_id]
        except KeyError:
            raise SimRejection(404, 40410000, "order not found") from None

    def order_by_client_id(self, client_order_id: str) -> SimOrder:
        order_id = self.by_client_id.get(client_order_id)
        if order_id is None:
            raise SimRejection(404, 40410000, "order not found")
        return self.orders[order_id]

    def open_orders(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.is_open]

    # --- orders ----------------------------------------------------------------------------
    def submit(self, body: dict[str, Any]) -> tuple[SimOrder, list[TradeEvent]]:
        """Validate and book a new order as Alpaca does; marketable orders may fill at once."""
        order = self._parse_order(body)
        self.orders[order.id] = order
        self.by_client_id[order.client_order_id] = order.id
        now = self.clock.now()
        if self.reject_next > 0:
            self.reject_next -= 1
            order.status, order.failed_at, order.updated_at = "rejected", now, now
            return order, [TradeEvent("rejected", order, now)]
        events = [TradeEvent("new", order, now)]
        if self.auto_fill:
            events += self._evaluate(order)
        return order, events

    def _parse_order(self, body: dict[str, Any]) -> SimOrder:
        client_order_id = str(body.get("client_order_id") or uuid.uuid4())
        if len(client_order_id) > 128:
            raise SimRejection(422, 40010001, "client_order_id must be no more than 128 characters")
        if client_order_id in self.by_client_id:
            raise SimRejection(422, 40010001, "client_order_id must be unique")
        symbol = str(body.get("symbol") or "").upper()
        if not symbol:
            raise SimRejection(422, 40010001, "symbol is required")
        side, kind, tif = body.get("side"), body.get("type"), body.get("time_in_force")
        if side not in ("buy", "sell"):
            raise SimRejection(422, 40010001, f"invalid side {side!r}")
        if kind not in ORDER_TYPES:
            raise SimRejection(422, 40010001, f"invalid order type {kind!r}")
        if tif not in TIME_IN_FORCE:
            raise SimRejection(422, 40010001, f"invalid time_in_force {tif!r}")
        if body.get("notional") is not None:
            raise SimRejection(422, 40010001, "the simulator supports qty orders only")
        qty = _positive(body.get("qty"), "qty")
        fractional = abs(qty - round(qty)) > EPSILON
        if fractional and (kind not in ("market", "limit") or tif != "day"):
            raise SimRejection(
                422,
                40010001,
                "fractional orders must be market or limit orders with day time_in_force",
            )
        now = self.clock.now()
        order = SimOrder(
            id=str(uuid.uuid4()),
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            qty=qty,
            type=kind,
            time_in_force=tif,
            created_at=now,
            updated_at=now,
        )
        if kind in ("limit", "stop_limit"):
            order.limit_price = _positive(body.get("limit_price"), "limit_price")
        if kind in ("stop", "stop_limit"):
            order.stop_price = _positive(body.get("stop_price"), "stop_price")
        if kind == "trailing_stop":
            if body.get("trail_price") is not None:
                order.trail_price = _positive(body.get("trail_price"), "trail_price")
            elif body.get("trail_percent") is not None:
                order.trail_percent = _positive(body.get("trail_percent"), "trail_percent")
            else:
                raise SimRejection(
                    422, 40010001, "trailing stop needs trail_price or trail_percent"
                )
            price = self.prices.get(symbol)
            order.hwm = price
        if side == "sell" and not self.allow_short:
            held = self.positions.get(symbol, SimPosition()).qty
            if qty > held + EPSILON:
                raise SimRejection(
                    403,
                    40310000,
                    f"insufficient qty available for order (requested: {qty}, available: {held})",
                )
        if side == "buy":
            price = order.limit_price or self.prices.get(symbol) or 0.0
            if qty * price > self.cash + EPSILON and self.cash >= 0:
                raise SimRejection(403, 40310000, "insufficient buying power")
        return order

    def cancel(self, order_id: str) -> list[TradeEvent]:
        order = self.order(order_id)
        if not order.is_open:
            raise SimRejection(422, 42210000, f'order is already in "{order.status}" state')
        now = self.clock.now()
        order.status, order.canceled_at, order.updated_at = "canceled", now, now
        return [TradeEvent("canceled", order, now)]

    def expire(self, order_id: str) -> list[TradeEvent]:
        """The order's time in force ran out (a day order at the close): Alpaca says "expired"."""
        order = self.order(order_id)
        if not order.is_open:
            raise ValueError(f"order {order.client_order_id} is {order.status}; it cannot expire")
        now = self.clock.now()
        order.status, order.expired_at, order.updated_at = "expired", now, now
        return [TradeEvent("expired", order, now)]

    def replace(self, order_id: str, body: dict[str, Any]) -> tuple[SimOrder, list[TradeEvent]]:
        """Alpaca replaces by creating a new order that `replaces` the old one. The new order
        fills from zero: its `qty` is what it may still fill, and an omitted `qty` copies the
        old order's whole qty, fills included (as Alpaca does: alpacahq/Alpaca-API#165)."""
        old = self.order(order_id)
        if not old.is_open:
            raise SimRejection(422, 42210000, f'order is already in "{old.status}" state')
        client_order_id = str(body.get("client_order_id") or uuid.uuid4())
        if client_order_id in self.by_client_id:
            raise SimRejection(422, 40010001, "client_order_id must be unique")
        now = self.clock.now()
        new = SimOrder(
            id=str(uuid.uuid4()),
            client_order_id=client_order_id,
            symbol=old.symbol,
            side=old.side,
            qty=_positive(body["qty"], "qty") if body.get("qty") is not None else old.qty,
            type=old.type,
            time_in_force=body.get("time_in_force") or old.time_in_force,
            created_at=now,
            updated_at=now,
            limit_price=_opt_positive(body.get("limit_price"), old.limit_price, "limit_price"),
            stop_price=_opt_positive(body.get("stop_price"), old.stop_price, "stop_price"),
            trail_price=_opt_positive(body.get("trail"), old.trail_price, "trail")
            if old.trail_price is not None
            else None,
            trail_percent=_opt_positive(body.get("trail"), old.trail_percent, "trail")
            if old.trail_percent is not None
            else None,
            hwm=old.hwm,
            replaces=old.id,
        )
        old.status, old.replaced_at, old.replaced_by, old.updated_at = "replaced", now, new.id, now
        self.orders[new.id] = new
        self.by_client_id[new.client_order_id] = new.id
        events = [TradeEvent("replaced", old, now), TradeEvent("new", new, now)]
        if self.auto_fill:
            events += self._evaluate(new)
        return new, events

    def close_position(self, symbol: str) -> tuple[SimOrder, list[TradeEvent]]:
        position = self.positions.get(symbol.upper())
        if position is None or abs(position.qty) < EPSILON:
            raise SimRejection(404, 40410000, "position does not exist")
        side = "sell" if position.qty > 0 else "buy"
        return self.submit(
            {
                "symbol": symbol,
                "qty": str(abs(position.qty)),
                "side": side,
                "type": "market",
                "time_in_force": "day",
            }
        )

    # --- executions ------------------------------------------------------------------------
    def fill(
        self, order_id: str, qty: float | None = None, price: float | None = None
    ) -> list[TradeEvent]:
        """Execute `qty` (default: all that remains) at `price` (default: the last price)."""
        order = self.order(order_id)
        if not order.is_open:
            raise ValueError(f"order {order.client_order_id} is {order.status}; it cannot fill")
        qty = order.remaining if qty is None else qty
        if not 0 < qty <= order.remaining + EPSILON:
            raise ValueError(f"fill quantity {qty} is not in (0, {order.remaining}]")
        if price is None:
            price = order.limit_price if order.type == "limit" else self.prices.get(order.symbol)
        if price is None or not math.isfinite(price) or price <= 0:
            raise ValueError(f"no price to fill {order.symbol} at; set one first")
        now = self.clock.now()
        prior = order.filled_qty
        order.filled_qty = min(prior + qty, order.qty)
        order.filled_avg_price = (
            (order.filled_avg_price or 0.0) * prior + price * qty
        ) / order.filled_qty
        order.updated_at = now
        complete = order.remaining <= EPSILON
        order.status = "filled" if complete else "partially_filled"
        if complete:
            order.filled_at = now
        signed = qty if order.side == "buy" else -qty
        self._book(order.symbol, signed, price)
        self.prices.setdefault(order.symbol, price)
        position_qty = self.positions.get(order.symbol, SimPosition()).qty
        return [
            TradeEvent(
                "fill" if complete else "partial_fill",
                order,
                now,
                price,
                qty,
                position_qty,
                str(uuid.uuid4()),
            )
        ]

    def _book(self, symbol: str, signed_qty: float, price: float) -> None:
        self.cash -= signed_qty * price
        position = self.positions.setdefault(symbol, SimPosition())
        new_qty = position.qty + signed_qty
        if abs(new_qty) < EPSILON:
            del self.positions[symbol]
            return
        if position.qty == 0 or position.qty * signed_qty > 0:
            position.avg_entry_price = (
                position.avg_entry_price * position.qty + price * signed_qty
            ) / new_qty
        elif position.qty * new_qty < 0:  # flipped through zero: the remainder opens at this price
            position.avg_entry_price = price
        position.qty = new_qty

    def set_price(
        self, symbol: str, price: float, *, high: float | None = None, low: float | None = None
    ) -> list[TradeEvent]:
        """A new trade price (or a bar's high/low/close): resting orders it crosses fill."""
        if not math.isfinite(price) or price <= 0:
            raise ValueError(f"price for {symbol} must be positive and finite, got {price}")
        symbol = symbol.upper()
        self.prices[symbol] = price
        events: list[TradeEvent] = []
        if not self.auto_fill:
            return events
        for order in [o for o in self.orders.values() if o.is_open and o.symbol == symbol]:
            events += self._evaluate(order, high=high, low=low)
        return events

    def _evaluate(
        self, order: SimOrder, *, high: float | None = None, low: float | None = None
    ) -> list[TradeEvent]:
        last = self.prices.get(order.symbol)
        if last is None:
            return []
        high, low = high or last, low or last
        buy = order.side == "buy"
        if order.type == "trailing_stop":
            order.hwm = (max if not buy else min)(order.hwm or last, low if buy else high)
            offset = (
                order.trail_price
                if order.trail_price is not None
                else order.hwm * (order.trail_percent or 0) / 100
            )
            order.stop_price = order.hwm + offset if buy else order.hwm - offset
        if order.type in ("stop", "stop_limit", "trailing_stop") and not order.stop_triggered:
            stop = order.stop_price
            assert stop is not None  # required for stop types, set just above for trailing ones
            triggered = high >= stop if buy else low <= stop
            if not triggered:
                return []
            order.stop_triggered = True
        if order.type in ("limit", "stop_limit"):
            limit = order.limit_price
            assert limit is not None  # _parse_order requires it for limit types
            crosses = low <= limit if buy else high >= limit
            if not crosses:
                return []
            price = min(limit, last) if buy else max(limit, last)
            return self.fill(order.id, price=price)
        return self.fill(order.id, price=last)


def _positive(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SimRejection(422, 40010001, f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise SimRejection(422, 40010001, f"{name} must be positive, got {value!r}")
    return number


def _opt_positive(value: Any, default: float | None, name: str) -> float | None:
    return default if value is None else _positive(value, name)
