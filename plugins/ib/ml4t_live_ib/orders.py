"""Translation between ml4t-backtest orders/fills and ib_async orders, trades and executions."""

from __future__ import annotations

import math
from datetime import datetime

import ib_async
from ml4t.backtest import Fill, Order, OrderSide, OrderStatus, OrderType

#: IB order statuses that mean "working or about to work at IB"
WORKING = frozenset({"ApiPending", "PendingSubmit", "PreSubmitted", "Submitted"})
ACKNOWLEDGED = frozenset({"PreSubmitted", "Submitted"})
#: IB error codes that reject a new order outright (the order never worked)
REJECT_CODES = frozenset(
    {103, 110, 200, 201, 203, 321, 354, 382, 383, 387, 388, 434, 461, 10147, 10148}
)
ORDER_CANCELLED = 202

_IB_TYPES = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
    OrderType.TRAILING_STOP: "TRAIL",
}
_FROM_IB_TYPES = {v: k for k, v in _IB_TYPES.items()}


class UnsupportedOrderError(ValueError):
    """An order the IB adapter cannot express (named type or missing price)."""


def _price(value: float | None, name: str, order: Order) -> float:
    if value is None or not math.isfinite(value) or value <= 0:
        raise UnsupportedOrderError(
            f"order {order.order_id}: {order.order_type.value} needs a positive finite {name}, "
            f"got {value!r}"
        )
    return float(value)


def to_ib_order(order: Order, *, account: str, tif: str = "DAY") -> ib_async.Order:
    """An IB order carrying the runtime's client order id as `orderRef`."""
    if order.order_type not in _IB_TYPES:
        raise UnsupportedOrderError(f"IB adapter does not send {order.order_type.value} orders")
    if not (math.isfinite(order.quantity) and order.quantity > 0):
        raise UnsupportedOrderError(
            f"order {order.order_id}: quantity must be positive and finite, got {order.quantity!r}"
        )
    ib_order = ib_async.Order(
        action="BUY" if order.side is OrderSide.BUY else "SELL",
        totalQuantity=float(order.quantity),
        orderType=_IB_TYPES[order.order_type],
        tif=tif,
        orderRef=order.order_id,
        account=account,
    )
    if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        ib_order.lmtPrice = _price(order.limit_price, "limit_price", order)
    if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        ib_order.auxPrice = _price(order.stop_price, "stop_price", order)
    if order.order_type is OrderType.TRAILING_STOP:
        ib_order.auxPrice = _price(
            order.trail_amount, "trail_amount", order
        )  # IB: auxPrice = trailing amount
    return ib_order


def from_ib_trade(trade: ib_async.Trade, asset: str, created: datetime) -> Order:
    """An ml4t `Order` for an IB trade found at the broker (open orders after a restart)."""
    o = trade.order
    order_type = _FROM_IB_TYPES.get(o.orderType, OrderType.MARKET)
    unset = ib_async.util.UNSET_DOUBLE

    def price(value: object) -> float | None:
        if value is None or value in (unset, 0.0):
            return None
        return float(value)  # type: ignore[arg-type]  # float or Decimal from ib_async

    return Order(
        asset=asset,
        side=OrderSide.BUY if o.action == "BUY" else OrderSide.SELL,
        quantity=float(o.totalQuantity),
        order_type=order_type,
        limit_price=price(o.lmtPrice)
        if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        else None,
        stop_price=price(o.auxPrice)
        if order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        else None,
        trail_amount=price(o.auxPrice) if order_type is OrderType.TRAILING_STOP else None,
        order_id=o.orderRef,
        status=OrderStatus.PENDING,
        created_at=created,
        filled_quantity=float(trade.orderStatus.filled or 0.0),
    )


def to_fill(order: Order, fill: ib_async.Fill, *, multiplier: float, currency: str) -> Fill:
    """One IB execution (with its commission report, if it has arrived) as an ml4t `Fill`."""
    ex = fill.execution
    return Fill(
        order_id=order.order_id,
        asset=order.asset,
        side=OrderSide.BUY if ex.side == "BOT" else OrderSide.SELL,
        quantity=float(ex.shares),
        price=float(ex.price),
        timestamp=ex.time,
        rebalance_id=order.rebalance_id,
        commission=float(fill.commissionReport.commission or 0.0),
        order_type=order.order_type.value,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        price_source="ib_execution",
        multiplier=multiplier,
        currency=currency,
    )
