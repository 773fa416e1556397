"""The `max-positions` check: no new position once `max_positions` are open."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.portfolio import QUANTITY_EPSILON
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext

NAME = "max-positions"


class MaxPositionsConfig(PluginConfig):
    """Settings of [risk.max-positions] (off unless set).

    max_positions: how many assets may be held at once. An order that would open a position
        in an asset not yet held is rejected when this many are open; orders on an asset already
        held (adding, reducing, flipping) always pass. Counts filled positions only: orders
        still working for new assets are not counted until they fill.
    """

    max_positions: int | None = Field(None, ge=1)


class MaxPositionsCheck:
    """Opening a new position is rejected when `max_positions` positions are already open."""

    name = NAME

    def __init__(self, config: MaxPositionsConfig | None = None):
        self.config = config or MaxPositionsConfig()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        limit = self.config.max_positions
        if limit is None or abs(context.position_quantity(order.asset)) > QUANTITY_EPSILON:
            return None
        held = len(context.positions())
        if held >= limit:
            return Rejection(
                NAME,
                f"opening {order.asset} would make {held + 1} positions ({held} open, max {limit})",
            )
        return None
