"""The `stale-data` check: no order on an asset whose latest bar is too old (or never seen)."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext

NAME = "stale-data"


class StaleDataConfig(PluginConfig):
    """Settings of [risk.stale-data] (on by default).

    max_age_seconds: the oldest the latest bar of the order's asset may be, measured on the
        runtime's clock (default 300). In a replay the clock is bar time, so replays are never
        stale. A bar stamped further than this in the future is rejected as well: the clock
        or the feed is wrong and prices cannot be trusted. An asset with no bar yet is rejected.
        The age is taken from the bar's timestamp; bars labelled by their start (the usual
        convention) are already one interval old when they arrive, so with bars of 5 minutes
        or longer set this above the bar interval, or every order will be rejected as stale.
    """

    max_age_seconds: float = Field(default=300.0, gt=0, allow_inf_nan=False)


class StaleDataCheck:
    """Orders need market data for their asset no older than `max_age_seconds`."""

    name = NAME

    def __init__(self, config: StaleDataConfig | None = None):
        self.config = config or StaleDataConfig()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        seen = context.last_bar_time(order.asset)
        if seen is None:
            return Rejection(NAME, f"no bar has been received for {order.asset}; prices unknown")
        if seen.tzinfo is None:
            return Rejection(
                NAME,
                f"latest {order.asset} bar time {seen.isoformat()} has no "
                f"timezone; its age cannot be known",
            )
        age = (context.now - seen).total_seconds()
        limit = self.config.max_age_seconds
        if age > limit:
            return Rejection(
                NAME,
                f"latest {order.asset} bar is {age:,.0f}s old "
                f"(at {seen.isoformat()}; max {limit:,.0f}s)",
            )
        if -age > limit:
            return Rejection(
                NAME,
                f"latest {order.asset} bar is {-age:,.0f}s in the future "
                f"(at {seen.isoformat()}; max {limit:,.0f}s); check the clock",
            )
        return None
