"""Translation between ml4t-backtest orders/positions and alpaca-py's request and model types."""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC, datetime
from typing import Any

from alpaca.trading.enums import OrderSide as AlpacaSide
from alpaca.trading.enums import OrderStatus as AlpacaStatus
from alpaca.trading.enums import TimeInForce
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType, Position

log = logging.getLogger("ml4t_live.alpaca")

EPSILON = 1e-9
#: A replacement order's client id: the runtime id plus ".r<n>" (Alpaca wants a new, unique one).
_REPLACEMENT = re.compile(r"^(?P<base>.+)\.r\d+$")

_PENDING = {
    AlpacaStatus.NEW,
    AlpacaStatus.ACCEPTED,
    AlpacaStatus.PENDING_NEW,
    AlpacaStatus.PARTIALLY_FILLED,
    AlpacaStatus.PENDING_CANCEL,
    AlpacaStatus.PENDING_REPLACE,
    AlpacaStatus.PENDING_REVIEW,
    AlpacaStatus.ACCEPTED_FOR_BIDDING,
    AlpacaStatus.CALCULATED,
    AlpacaStatus.STOPPED,
    AlpacaStatus.HELD,
}
_CANCELLED = {
    AlpacaStatus.CANCELED,
    AlpacaStatus.EXPIRED,
    AlpacaStatus.DONE_FOR_DAY,
    AlpacaStatus.REPLACED,
}
_REJECTED = {AlpacaStatus.REJECTED, AlpacaStatus.SUSPENDED}


class UnsupportedOrderError(ValueError):
    """Alpaca cannot take this order as asked; says what is wrong and what it would accept."""


def runtime_client_id(alpaca_client_order_id: str) -> str:
    """The runtime's client order id behind an Alpaca one (replacements carry a suffix)."""
    match = _REPLACEMENT.match(alpaca_client_order_id)
    return match.group("base") if match else alpaca_client_order_id


def replacement_client_id(client_order_id: str, generation: int) -> str:
    return f"{runtime_client_id(client_order_id)}.r{generation}"


def is_fractional(quantity: float) -> bool:
    return abs(quantity - round(quantity)) > EPSILON


def to_order_request(order: Order, time_in_force: str) -> OrderRequest:
    """The alpaca-py request for an ml4t order; its client order id is the runtime's id."""
    if not order.order_id:
        raise UnsupportedOrderError(
            "order has no client order id; the runtime assigns one before sending"
        )
    qty = order.quantity
    if not math.isfinite(qty) or qty <= 0:
        raise UnsupportedOrderError(
            f"order {order.order_id}: quantity must be positive and finite, got {qty}"
        )
    tif = TimeInForce.CLS if order.order_type is OrderType.MOC else TimeInForce(time_in_force)
    if is_fractional(qty):
        if order.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            raise UnsupportedOrderError(
                f"order {order.order_id}: Alpaca takes fractional quantities ({qty}) only for "
                f"market and limit orders, not {order.order_type.value}; round the quantity"
            )
        if tif is not TimeInForce.DAY:
            raise UnsupportedOrderError(
                f"order {order.order_id}: Alpaca takes fractional quantities ({qty}) only with "
                f"time_in_force 'day', not {tif.value!r}"
            )
    common: dict[str, Any] = {
        "symbol": order.asset,
        "qty": qty,
        "time_in_force": tif,
        "client_order_id": order.order_id,
        "side": AlpacaSide.BUY if order.side is OrderSide.BUY else AlpacaSide.SELL,
    }
    match order.order_type:
        case OrderType.MARKET | OrderType.MOC:
            return MarketOrderRequest(**common)
        case OrderType.LIMIT:
            return LimitOrderRequest(
                **common, limit_price=_price(order.limit_price, "limit_price", order)
            )
        case OrderType.STOP:
            return StopOrderRequest(
                **common, stop_price=_price(order.stop_price, "stop_price", order)
            )
        case OrderType.STOP_LIMIT:
            return StopLimitOrderRequest(
                **common,
                stop_price=_price(order.stop_price, "stop_price", order),
                limit_price=_price(order.limit_price, "limit_price", order),
            )
        case OrderType.TRAILING_STOP:
            return TrailingStopOrderRequest(
                **common, trail_price=_price(order.trail_amount, "trail_amount", order)
            )
    raise UnsupportedOrderError(
        f"order {order.order_id}: Alpaca has no order type {order.order_type.value!r}"
    )


def _price(value: float | None, name: str, order: Order) -> float:
    if value is None or not math.isfinite(value) or value <= 0:
        raise UnsupportedOrderError(
            f"order {order.order_id}: {order.order_type.value} order needs a positive {name}, "
            f"got {value}"
        )
    # Alpaca accepts at most 2 decimals above $1 and 4 below; finer prices are refused.
    return round(value, 2 if value >= 1 else 4)


def to_status(status: AlpacaStatus | str) -> OrderStatus:
    status = AlpacaStatus(status)
    if status is AlpacaStatus.FILLED:
        return OrderStatus.FILLED
    if status in _CANCELLED:
        return OrderStatus.CANCELLED
    if status in _REJECTED:
        return OrderStatus.REJECTED
    return OrderStatus.PENDING


def mappable(alpaca: AlpacaOrder) -> Order | None:
    """`to_order`, or None with a warning for an order the runtime cannot represent (Alpaca's
    multi-leg options orders). Such an order cannot be one the runtime placed; refusing to
    start or to reconcile over it would let any manual options order stop trading."""
    try:
        return to_order(alpaca)
    except UnsupportedOrderError as exc:
        log.warning("alpaca: %s; left alone (not tracked, not adopted)", exc)
        return None


def to_order(alpaca: AlpacaOrder) -> Order:
    """An ml4t `Order` (order_id = the runtime's client id) from Alpaca's order."""
    alpaca_type = alpaca.order_type or alpaca.type
    if alpaca_type is None:  # Alpaca omits the type only on multi-leg (options) orders
        raise UnsupportedOrderError(
            f"Alpaca order {alpaca.id} ({alpaca.client_order_id}) has no order type "
            f"(order class {alpaca.order_class.value}); only single-leg orders can be mapped"
        )
    kind = OrderType(alpaca_type.value)
    if alpaca.time_in_force is TimeInForce.CLS and kind is OrderType.MARKET:
        kind = OrderType.MOC
    order = Order(
        asset=alpaca.symbol or "",
        side=OrderSide.BUY if alpaca.side is AlpacaSide.BUY else OrderSide.SELL,
        quantity=_float(alpaca.qty),
        order_type=kind,
        limit_price=opt_float(alpaca.limit_price),
        stop_price=opt_float(alpaca.stop_price),
        trail_amount=opt_float(alpaca.trail_price),
        order_id=runtime_client_id(alpaca.client_order_id),
        status=to_status(alpaca.status),
        created_at=alpaca.created_at,
        filled_quantity=_float(alpaca.filled_qty),
        filled_price=opt_float(alpaca.filled_avg_price),
        filled_at=alpaca.filled_at,
    )
    return order


def to_position(alpaca: AlpacaPosition, now: datetime | None = None) -> Position:
    qty = _float(alpaca.qty)
    if alpaca.side is not None and alpaca.side.value == "short" and qty > 0:
        qty = -qty  # Alpaca reports short quantities as negative; be sure of the sign
    return Position(
        asset=alpaca.symbol,
        quantity=qty,
        entry_price=_float(alpaca.avg_entry_price),
        entry_time=now or datetime.now(UTC),
        current_price=opt_float(alpaca.current_price),
    )


def _float(value: Any) -> float:
    return float(value) if value is not None else 0.0


def opt_float(value: Any) -> float | None:
    """Alpaca's optional decimal fields (prices, quantities) as floats."""
    return float(value) if value is not None else None
