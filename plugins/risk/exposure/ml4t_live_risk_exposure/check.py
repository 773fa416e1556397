"""The `exposure` check: projected gross (and optionally net) exposure after the order."""

from __future__ import annotations

import math

from ml4t.backtest import OrderSide
from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext

NAME = "exposure"


class ExposureConfig(PluginConfig):
    """Settings of [risk.exposure] (off unless a limit is set; limits depend on account size).

    max_gross: the largest sum of |quantity| x last price x multiplier over all positions,
        in account currency, after the order (and this asset's working orders on the same side)
        would fill.
    max_net: the largest |sum of signed position values| after the order, in account currency.

    An order that does not increase the measure it is checked against always passes; an
    order that would increase it, on an asset with no known last price, is rejected.
    """

    max_gross: float | None = Field(None, gt=0, allow_inf_nan=False)
    max_net: float | None = Field(None, gt=0, allow_inf_nan=False)


class ExposureCheck:
    """Keeps projected gross / net exposure within limits, in O(1) per order."""

    name = NAME

    def __init__(self, config: ExposureConfig | None = None):
        self.config = config or ExposureConfig()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        max_gross, max_net = self.config.max_gross, self.config.max_net
        if (max_gross is None and max_net is None) or order.reduces_position:
            return None
        held = context.position_quantity(order.asset)
        working = context.pending_quantity(order.asset, order.side)
        direction = 1.0 if order.side is OrderSide.BUY else -1.0
        after = held + direction * (working + order.quantity)
        price = context.last_price(order.asset)
        if price is None or not price > 0:
            # Without a price only the direction is known: more gross, or any change of net.
            if (max_gross is not None and abs(after) > abs(held)) or max_net is not None:
                return Rejection(
                    NAME, f"no last price for {order.asset}; the order's exposure cannot be valued"
                )
            return None
        unit = price * context.multiplier(order.asset)
        gross, net = context.gross_exposure(), context.net_exposure()
        if not (math.isfinite(unit) and math.isfinite(gross) and math.isfinite(net)):
            # NaN compares False with every limit, which would let the order through.
            return Rejection(
                NAME,
                f"exposure cannot be valued (gross {gross}, net {net}, "
                f"{order.asset} unit value {unit})",
            )
        what = f"{order.side.value} {order.quantity:g} {order.asset}"
        if max_gross is not None:
            delta = (abs(after) - abs(held)) * unit
            if delta > 0 and gross + delta > max_gross:
                return Rejection(
                    NAME,
                    f"gross exposure would be {gross + delta:,.2f} after {what} "
                    f"(now {gross:,.2f}, max {max_gross:,.2f})",
                )
        if max_net is not None:
            net_after = net + (after - held) * unit
            if abs(net_after) > abs(net) and abs(net_after) > max_net:
                return Rejection(
                    NAME,
                    f"net exposure would be {net_after:,.2f} after {what} "
                    f"(now {net:,.2f}, max ±{max_net:,.2f})",
                )
        return None
