"""The `price-collar` check: rejects "fat finger" limit/stop prices far from the last trade."""

from __future__ import annotations

from ml4t.backtest import OrderType

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext
from ml4t_live_risk_price_collar.config import PriceCollarConfig

NAME = "price-collar"
# Float residue (e.g. 157.5 vs 150 at 5%) must not turn an order exactly at the limit into a reject.
_PCT_TOLERANCE = 1e-9


class PriceCollarCheck:
    """Limit and stop prices must lie within `max_deviation_pct` of the last trade price."""

    name = NAME

    def __init__(self, config: PriceCollarConfig | None = None):
        self.config = config or PriceCollarConfig()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        last = context.last_price(order.asset)
        if last is None or not last > 0:
            kind = "market" if order.order_type is OrderType.MARKET else order.order_type.value
            return Rejection(
                NAME,
                f"no last trade price for {order.asset}; a {kind} order "
                f"cannot be checked against the market",
            )
        limit = self.config.max_deviation_pct
        for label, price in (("limit", order.limit_price), ("stop", order.stop_price)):
            if price is None:
                continue
            deviation = abs(price - last) / last * 100.0
            if deviation > limit + _PCT_TOLERANCE:
                return Rejection(
                    NAME,
                    f"{label} {price:,.2f} is {deviation:.1f}% from last "
                    f"{last:,.2f} (max {limit:.1f}%)",
                )
        return None
