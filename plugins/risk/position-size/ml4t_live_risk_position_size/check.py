"""Maximum size of one position after the order, counting pending orders on the same side."""

from __future__ import annotations

import math

from ml4t.backtest import OrderSide, OrderType

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext
from ml4t_live_risk_position_size.config import PositionSizeConfig

NAME = "position-size"
_LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)


class PositionSizeCheck:
    """Rejects an order whose projected position exceeds `max_shares` or `max_value`."""

    name = NAME

    def __init__(self, config: PositionSizeConfig | None = None):
        self.config = config or PositionSizeConfig()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        max_shares, max_value = self.config.max_shares, self.config.max_value
        if order.reduces_position or (max_shares is None and max_value is None):
            return None
        pending = context.pending_quantity(order.asset, order.side)
        signed_pending = pending if order.side is OrderSide.BUY else -pending
        projected = abs(order.projected_position + signed_pending)
        what = (
            f"position {order.position_quantity:,g} + order {order.signed_quantity:+,g} "
            f"+ pending {signed_pending:+,g}"
        )
        if max_shares is not None and not projected <= max_shares:
            return Rejection(
                NAME, f"projected position {projected:,g} ({what}) > max {max_shares:,g}"
            )
        if max_value is None:
            return None
        price = context.last_price(order.asset)
        if price is None and order.order_type in _LIMIT_TYPES:
            price = order.limit_price
        if price is None or not math.isfinite(price) or price <= 0:
            return Rejection(
                NAME,
                f"no known market price for {order.asset}; cannot check max position "
                f"value ${max_value:,.2f}",
            )
        value = projected * price * context.multiplier(order.asset)
        if not value <= max_value:  # also rejects NaN: fail closed
            return Rejection(
                NAME,
                f"projected position value ${value:,.2f} ({what}, at {price:,.4g}) "
                f"> max ${max_value:,.2f}",
            )
        return None
