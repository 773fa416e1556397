"""Order argument validation and matching, shared by the safety layer and simulated venues."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, TypeGuard

from ml4t.backtest import Order, OrderSide, OrderType

_NEEDS_LIMIT = {OrderType.LIMIT, OrderType.STOP_LIMIT}
_NEEDS_STOP = {OrderType.STOP, OrderType.STOP_LIMIT}

#: What `update_order` may change, as in ml4t-backtest 0.2 (`OrderBook._UPDATABLE_ORDER_FIELDS`).
UPDATABLE_FIELDS = frozenset({"quantity", "limit_price", "stop_price", "trail_amount"})


def check_update_fields(changes: dict[str, Any]) -> None:
    """Refuse fields `update_order` cannot change, naming them, as ml4t-backtest does."""
    invalid = set(changes) - UPDATABLE_FIELDS
    if invalid:
        raise ValueError(
            f"Cannot update order fields: {sorted(invalid)}. "
            f"Updatable fields: {sorted(UPDATABLE_FIELDS)}"
        )


def is_positive_finite(value: Any) -> TypeGuard[float]:
    """A real number (not a bool) that is finite and above zero: a usable quantity or price."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return False
    number = float(value)
    return math.isfinite(number) and number > 0


def updated_remaining(order: Order, changes: dict[str, Any]) -> float:
    """The order's remaining (unfilled) quantity after `update_order(**changes)`.

    As in ml4t-backtest 0.2, a strategy's `quantity` is the new *remaining* quantity, not a new
    total: an order for 100 with 40 filled, updated to 50, may fill 50 more (90 in all).
    """
    remaining = changes.get("quantity", order.quantity - order.filled_quantity)
    if not is_positive_finite(remaining):
        raise ValueError(
            f"Updated remaining quantity must be finite and positive, got {remaining!r}"
        )
    return float(remaining)


def validate_order_args(
    asset: Any,
    quantity: Any,
    side: Any,
    order_type: Any,
    limit_price: Any,
    stop_price: Any,
    trail_amount: Any,
) -> tuple[str, float, OrderSide]:
    """Check an order's arguments like ml4t-backtest does, and stricter where live money is at
    stake. Returns (asset, positive quantity, side); raises ValueError naming the problem."""
    if not isinstance(asset, str) or not asset.strip():
        raise ValueError(f"Order asset must be a non-empty string, got {asset!r}")
    if not isinstance(order_type, OrderType):
        raise ValueError(f"order_type must be an OrderType, got {order_type!r}")
    if order_type is OrderType.MOC:
        raise ValueError("order_type MOC is not supported live; use MARKET near the close")
    if isinstance(quantity, bool) or not isinstance(quantity, Real) or not math.isfinite(quantity):
        raise ValueError(f"Order quantity must be a finite real number, got {quantity!r}")
    qty = float(quantity)
    if qty == 0:
        raise ValueError(f"Order quantity must be non-zero for {asset!r}")
    if side is not None and not isinstance(side, OrderSide):
        raise ValueError(f"side must be an OrderSide or None, got {side!r}")
    if side is not None and qty < 0:
        raise ValueError(
            f"Order quantity {quantity!r} for {asset!r} is negative while side={side.name} is "
            f"given; pass a positive quantity with a side, or a signed quantity without one"
        )
    _check_price("limit_price", limit_price, order_type, order_type in _NEEDS_LIMIT)
    _check_price("stop_price", stop_price, order_type, order_type in _NEEDS_STOP)
    _check_price("trail_amount", trail_amount, order_type, order_type is OrderType.TRAILING_STOP)
    if side is None:
        side = OrderSide.BUY if qty > 0 else OrderSide.SELL
    return asset, abs(qty), side


def _check_price(name: str, value: Any, order_type: OrderType, required: bool) -> None:
    if value is None:
        if required:
            raise ValueError(f"{name} is required for {order_type.value} orders")
        return
    if not is_positive_finite(value):
        raise ValueError(
            f"{name} must be a finite positive price for {order_type.value}, got {value!r}"
        )


def match_price(order: Order, bar: dict[str, Any], *, at_open_only: bool = False) -> float | None:
    """The price at which `order` executes against one OHLC bar, or None if it does not.

    Market orders take the open. Limit orders fill at the limit (or a better open); stops
    trigger when the bar trades through the stop and fill at the stop (or a worse open), like
    ml4t-backtest's default STOP_PRICE fill mode.
    """
    open_ = _num(bar.get("open", bar.get("close")))
    high = _num(bar.get("high", open_))
    low = _num(bar.get("low", open_))
    if open_ is None or high is None or low is None:
        return None
    kind = order.order_type
    buy = order.side is OrderSide.BUY
    if kind is OrderType.MARKET:
        return open_
    if at_open_only:
        high = low = open_
    if kind is OrderType.LIMIT:
        limit = order.limit_price
        if limit is None:  # a malformed order never matches rather than raising on the loop
            return None
        if buy and low <= limit:
            return min(open_, limit)
        if not buy and high >= limit:
            return max(open_, limit)
        return None
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP):
        stop = order.stop_price
        if stop is None:
            return None
        triggered = (buy and high >= stop) or (not buy and low <= stop)
        if not triggered:
            return None
        fill = max(open_, stop) if buy else min(open_, stop)
        if kind is OrderType.STOP_LIMIT:
            limit = order.limit_price
            if limit is None:
                return None
            if (buy and fill > limit) or (not buy and fill < limit):
                return None
        return fill
    return None


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def update_trailing_stop(order: Order, bar: dict[str, Any]) -> None:
    """Ratchet a trailing stop's `stop_price` with the bar's extreme (only ever tighter)."""
    if order.order_type is not OrderType.TRAILING_STOP or order.trail_amount is None:
        return
    if order.side is OrderSide.SELL:
        high = _num(bar.get("high", bar.get("close")))
        if high is not None:
            candidate = high - order.trail_amount
            order.stop_price = (
                candidate if order.stop_price is None else max(order.stop_price, candidate)
            )
    else:
        low = _num(bar.get("low", bar.get("close")))
        if low is not None:
            candidate = low + order.trail_amount
            order.stop_price = (
                candidate if order.stop_price is None else min(order.stop_price, candidate)
            )
