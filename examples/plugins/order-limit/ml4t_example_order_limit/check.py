"""The `max-orders-per-day` check: no more than `max_orders` new orders per asset per day."""

from __future__ import annotations

from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext

NAME = "max-orders-per-day"


class MaxOrdersPerDayConfig(PluginConfig):
    """Settings of [risk.max-orders-per-day] (off unless `max_orders` is set).

    max_orders: new orders allowed per asset per trading day; closing orders always pass.
    timezone: where the trading day starts (the exchange's zone).
    """

    max_orders: int | None = Field(None, ge=1)
    timezone: str = "America/New_York"


class MaxOrdersPerDayCheck:
    """Counts accepted orders per (asset, trading day); rejects the one past the limit."""

    name = NAME

    def __init__(self, config: MaxOrdersPerDayConfig | None = None):
        self.config = config or MaxOrdersPerDayConfig()
        self._zone = ZoneInfo(self.config.timezone)
        self._day: date | None = None
        self._counts: Counter[str] = Counter()

    def _today(self, context: RiskContext) -> Counter[str]:
        day = context.now.astimezone(self._zone).date()
        if day != self._day:  # a new trading day starts every count at zero
            self._day, self._counts = day, Counter()
        return self._counts

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        limit = self.config.max_orders
        if limit is None or order.is_close or order.is_update:
            return None
        sent = self._today(context)[order.asset]
        if sent >= limit:
            return Rejection(NAME, f"{order.asset}: {sent} orders already sent today (max {limit})")
        return None

    @hookimpl
    def ml4t_live_on_order_accepted(self, order: OrderRequest, context: RiskContext) -> None:
        if self.config.max_orders is not None and not (order.is_close or order.is_update):
            self._today(context)[order.asset] += 1
