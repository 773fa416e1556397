"""Order rate limit: at most `max_orders` accepted orders per rolling `per_seconds` window."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext

NAME = "rate-limit"


class RateLimitConfig(PluginConfig):
    """[risk.rate-limit]

    - `max_orders` (default 200, >= 1) accepted orders per rolling
    - `per_seconds` (default 60.0, > 0) seconds, counted in this process.

    The default matches Alpaca's 200 requests per minute and is far above what a bar-driven
    strategy sends; it stops a runaway loop, not a rebalance. Time is the runtime's clock.
    Closes that reduce an existing position (`close_position`, `flatten_all_positions`) are
    counted but never rejected, so a flatten is never throttled. Order updates are not counted.
    """

    max_orders: int = Field(default=200, ge=1)
    per_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)


class RateLimitCheck:
    """Rejects new orders once the rolling window holds `max_orders` accepted ones."""

    name = NAME

    def __init__(self, config: RateLimitConfig | None = None):
        self.config = config or RateLimitConfig()
        self._accepted: deque[datetime] = deque()

    def _expire(self, now: datetime) -> None:
        window = self.config.per_seconds
        accepted = self._accepted
        while accepted and (now - accepted[0]).total_seconds() >= window:
            accepted.popleft()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        if order.is_update or (order.is_close and order.reduces_position):
            return None
        self._expire(context.now)
        count = len(self._accepted)
        if count >= self.config.max_orders:
            return Rejection(
                NAME,
                f"{count} orders in the last {self.config.per_seconds:g}s; "
                f"max {self.config.max_orders}",
            )
        return None

    @hookimpl
    def ml4t_live_on_order_accepted(self, order: OrderRequest, context: RiskContext) -> None:
        if order.is_update:
            return
        now = context.now
        self._accepted.append(now)
        self._expire(now)
