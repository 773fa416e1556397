"""The `exposure` check: projected gross (and optionally net) exposure after the order."""

from __future__ import annotations

import math

from ml4t.backtest import OrderSide

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.portfolio import QUANTITY_EPSILON
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext
from ml4t_live_risk_exposure.config import ExposureConfig

NAME = "exposure"
Key = tuple[str, OrderSide]


class ExposureCheck:
    """Keeps projected gross / net exposure within limits, in O(1) per order.

    Accepted orders add their gross increment to a running upper bound; only when that bound
    says the limit may be reached are the working orders re-valued exactly (and the settled
    ones forgotten), so the common case costs a few dict lookups.
    """

    name = NAME

    def __init__(self, config: ExposureConfig | None = None):
        self.config = config or ExposureConfig()
        self._working: set[Key] = set()
        self._working_bound = 0.0  # >= the gross that working orders would add

    @hookimpl
    def ml4t_live_on_order_accepted(self, order: OrderRequest, context: RiskContext) -> None:
        if self.config.max_gross is None or order.reduces_position or order.is_update:
            return
        key = (order.asset, order.side)
        self._working.add(key)
        with_order, without = (
            _increment(context, key, order.quantity),
            _increment(context, key, 0.0),
        )
        if with_order is not None and without is not None and math.isfinite(with_order):
            self._working_bound += with_order - without  # this order's own share of the key

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
            if delta > 0 and gross + delta + self._working_bound > max_gross:
                others = self._revalue_working(context, exclude=(order.asset, order.side))
                if gross + delta + others > max_gross:
                    pending = f", working orders +{others:,.2f}" if others else ""
                    return Rejection(
                        NAME,
                        f"gross exposure would be {gross + delta + others:,.2f} after {what} "
                        f"(now {gross:,.2f}{pending}, max {max_gross:,.2f})",
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

    def _revalue_working(self, context: RiskContext, exclude: Key) -> float:
        """Exact gross the working orders (other than `exclude`'s) would add; resets the bound."""
        total = others = 0.0
        still: set[Key] = set()
        for key in self._working:
            if context.pending_quantity(*key) <= QUANTITY_EPSILON:
                continue  # filled (now in gross), cancelled or rejected
            still.add(key)
            # A working order we cannot value counts as unbounded: fail closed.
            increment = _increment(context, key, 0.0)
            increment = math.inf if increment is None or not math.isfinite(increment) else increment
            total += increment
            if key != exclude:
                others += increment
        self._working, self._working_bound = still, total
        return others


def _increment(context: RiskContext, key: Key, extra: float) -> float | None:
    """Gross added if the working quantity on `key` (plus `extra`) filled; None without a price."""
    asset, side = key
    price = context.last_price(asset)
    if price is None or not price > 0:
        return None
    held = context.position_quantity(asset)
    direction = 1.0 if side is OrderSide.BUY else -1.0
    after = held + direction * (context.pending_quantity(asset, side) + extra)
    return max(0.0, abs(after) - abs(held)) * price * context.multiplier(asset)
