"""Maximum size of one order, in shares and in value."""

from __future__ import annotations

import math

from ml4t.backtest import OrderType

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext
from ml4t_live_risk_order_size.config import OrderSizeConfig

NAME = "order-size"
_LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)


class OrderSizeCheck:
    """Rejects an order above `max_shares` or `max_value`."""

    name = NAME

    def __init__(self, config: OrderSizeConfig | None = None):
        self.config = config or OrderSizeConfig()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        max_shares, max_value = self.config.max_shares, self.config.max_value
        if order.is_close and order.reduces_position:
            return None
        if max_shares is not None and not order.quantity <= max_shares:
            return Rejection(NAME, f"quantity {order.quantity:,g} > max {max_shares:,g}")
        if max_value is None:
            return None
        price: float | None
        if order.order_type in _LIMIT_TYPES and order.limit_price is not None:
            price, source = order.limit_price, "limit price"
        else:
            price, source = context.last_price(order.asset), "last price"
        if price is None or not math.isfinite(price) or price <= 0:
            return Rejection(
                NAME,
                f"no known market price for {order.asset}; cannot check max value "
                f"${max_value:,.2f}",
            )
        value = order.quantity * price * context.multiplier(order.asset)
        # `not <=` also rejects a NaN value (e.g. a corrupt multiplier): fail closed.
        if not value <= max_value:
            return Rejection(
                NAME,
                f"value ${value:,.2f} ({order.quantity:,g} x {source} {price:,.4g}) "
                f"> max ${max_value:,.2f}",
            )
        return None
