"""The `max-positions` check: no new position once `max_positions` are open."""

from __future__ import annotations

from ml4t.backtest import OrderSide

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.portfolio import QUANTITY_EPSILON
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext
from ml4t_live_risk_max_positions.config import MaxPositionsConfig

NAME = "max-positions"


class MaxPositionsCheck:
    """Opening a new position is rejected when `max_positions` are open or being opened.

    O(1) per order: the set of assets being opened is only swept for settled (filled,
    cancelled, rejected) entries when the count reaches the limit.
    """

    name = NAME

    def __init__(self, config: MaxPositionsConfig | None = None):
        self.config = config or MaxPositionsConfig()
        self._opening: set[str] = set()

    @hookimpl
    def ml4t_live_on_order_accepted(self, order: OrderRequest, context: RiskContext) -> None:
        if (
            self.config.max_positions is not None
            and not order.is_update
            and _flat(context, order.asset)
        ):
            self._opening.add(order.asset)

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        limit = self.config.max_positions
        asset = order.asset
        if limit is None or not _flat(context, asset):
            return None
        if asset in self._opening and _being_opened(context, asset):
            return None  # adds to a position already on its way
        held = len(context.positions())
        if held + len(self._opening) >= limit:
            # Only near the limit: drop entries that filled (now in `held`) or went away.
            self._opening = {a for a in self._opening if _being_opened(context, a)}
        opening = len(self._opening)
        if held + opening >= limit:
            pending = f", {opening} being opened" if opening else ""
            return Rejection(
                NAME,
                f"opening {asset} would make {held + opening + 1} positions "
                f"({held} open{pending}, max {limit})",
            )
        return None


def _flat(context: RiskContext, asset: str) -> bool:
    return abs(context.position_quantity(asset)) <= QUANTITY_EPSILON


def _being_opened(context: RiskContext, asset: str) -> bool:
    working = context.pending_quantity(asset, OrderSide.BUY) + context.pending_quantity(
        asset, OrderSide.SELL
    )
    return _flat(context, asset) and working > QUANTITY_EPSILON
