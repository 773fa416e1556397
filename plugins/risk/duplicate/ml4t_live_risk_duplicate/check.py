"""Duplicate-order window: the same asset, side and quantity twice within a few seconds."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from ml4t.backtest import OrderSide

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext
from ml4t_live_risk_duplicate.config import DuplicateConfig

NAME = "duplicate"

_Key = tuple[str, OrderSide, float]


class DuplicateCheck:
    """Rejects an order identical (asset, side, quantity) to one accepted within the window."""

    name = NAME

    def __init__(self, config: DuplicateConfig | None = None):
        self.config = config or DuplicateConfig()
        # Insertion order = acceptance order, so expired keys are pruned from the front: O(1)
        # amortised per order instead of a scan.
        self._last: OrderedDict[_Key, datetime] = OrderedDict()

    @staticmethod
    def _key(order: OrderRequest, context: RiskContext) -> _Key:
        # Rounded so 0.1 + 0.2 and 0.3 shares count as the same quantity.
        return (context.normalize_asset(order.asset), order.side, round(order.quantity, 9))

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        if order.is_update:
            return None
        last = self._last.get(self._key(order, context))
        if last is None:
            return None
        elapsed = (context.now - last).total_seconds()
        # A clock that went backwards (elapsed < 0) cannot prove the window passed: reject.
        if elapsed < self.config.window_seconds:
            return Rejection(
                NAME,
                f"same order ({order.side.name} {order.quantity:g} {order.asset}) was accepted "
                f"{elapsed:.3g}s ago; window is {self.config.window_seconds:g}s",
            )
        return None

    @hookimpl
    def ml4t_live_on_order_accepted(self, order: OrderRequest, context: RiskContext) -> None:
        if order.is_update:
            return
        now = context.now
        key = self._key(order, context)
        self._last.pop(key, None)
        self._last[key] = now
        window = self.config.window_seconds
        while self._last:
            oldest_key, oldest = next(iter(self._last.items()))
            if (now - oldest).total_seconds() < window:
                break
            del self._last[oldest_key]
