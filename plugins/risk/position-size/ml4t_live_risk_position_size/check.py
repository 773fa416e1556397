"""Maximum size of one position after the order, counting pending orders on the same side."""

from __future__ import annotations

import math

from ml4t.backtest import OrderSide, OrderType
from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext

NAME = "position-size"
_LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)


class PositionSizeConfig(PluginConfig):
    """[risk.position-size] (both default to not set: account-size limits are yours to choose)

    The projected position is the current position plus this order plus every pending order
    on the same side (as if they all fill), long or short alike.

    - `max_shares`: largest |projected position| in shares or contracts.
    - `max_value`: largest |projected position| x price x contract multiplier, valued at the
      latest market price (the limit price while no market price is known); with no price at
      all the order is rejected while `max_value` is set.

    An order that reduces an existing position without flipping it always passes. An update
    of a pending order is checked with that order still counted as pending (conservative).
    """

    max_shares: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_value: float | None = Field(default=None, gt=0, allow_inf_nan=False)


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
