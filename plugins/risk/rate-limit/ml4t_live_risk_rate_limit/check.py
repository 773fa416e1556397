"""Order rate limit: at most `max_orders` accepted orders per rolling `per_seconds` window."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any

from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext

NAME = "rate-limit"


class RateLimitConfig(PluginConfig):
    """[risk.rate-limit]

    - `max_orders` (default 200, >= 1) accepted orders per rolling
    - `per_seconds` (default 60.0, > 0) seconds, counted in this process and, when the state
      backend is shared (SQLite, Redis), over every process trading the same account: the
      journal's orders are read before each order. Two processes deciding at the same instant
      may each send one order past the shared count; each stays within its own limit.

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
        self._watching = False

    def _watch(self, context: RiskContext) -> None:
        if not self._watching:
            self._watching = True
            context.watch_account_orders(self.config.per_seconds)

    @hookimpl
    def ml4t_live_on_run_start(self, stats: Any, context: RiskContext) -> None:
        self._watch(context)  # before the first order, so that one is counted account-wide too

    def _expire(self, now: datetime) -> None:
        window = self.config.per_seconds
        accepted = self._accepted
        while accepted and (now - accepted[0]).total_seconds() >= window:
            accepted.popleft()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        if order.is_update or (order.is_close and order.reduces_position):
            return None
        self._watch(context)
        self._expire(context.now)
        count, limit, window = len(self._accepted), self.config.max_orders, self.config.per_seconds
        if count >= limit:
            return Rejection(NAME, f"{count} orders in the last {window:g}s; max {limit}")
        shared = context.account_orders_within(window)
        if shared is not None and shared >= limit:
            return Rejection(
                NAME,
                f"{shared} orders on this account in the last {window:g}s "
                f"(all processes sharing the state); max {limit}",
            )
        return None

    @hookimpl
    def ml4t_live_on_order_accepted(self, order: OrderRequest, context: RiskContext) -> None:
        if order.is_update:
            return
        now = context.now
        self._accepted.append(now)
        self._expire(now)
