"""AccountBook: the account view that risk checks and the strategy thread read.

Holdings, prices and pending orders are published copy-on-write (a changed map is replaced,
never mutated), so the strategy thread reads them without locks; pending quantities and
exposure are kept incrementally so a risk check costs O(1), not O(positions).
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Mapping
from datetime import datetime

from ml4t.backtest import Fill, Order, OrderSide

from ml4t_live_core.history import DEFAULT_HISTORY_LIMIT, History
from ml4t_live_core.portfolio import QUANTITY_EPSILON, Holding, Portfolio


class AccountBook:
    """Cash, holdings, prices, pending orders, fills and rejections, owned by the event loop."""

    def __init__(self, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        self.ledger = Portfolio(0.0)
        self.prices: dict[str, float] = {}
        self.bar_times: dict[str, datetime] = {}
        self.buying_power = 0.0
        self._gross = 0.0
        self._net = 0.0
        #: Orders, fills and rejections, bounded (open orders always kept); see `History`.
        self.history = History(history_limit)
        self._orders: dict[str, Order] = self.history.orders
        #: Published copies of pending orders, replaced on change (read by the strategy thread).
        self.pending_view: dict[str, Order] = {}
        self._pending_qty: dict[tuple[str, OrderSide], float] = {}
        self.rejected: deque[Order] = self.history.rejected
        self.fills: deque[Fill] = self.history.fills
        self.last_rejection_reason: str | None = None

    # --- pending bookkeeping (incremental, so checks stay O(1)) ----------------------------
    def _add_pending(self, order: Order) -> None:
        key = (order.asset, order.side)
        self._pending_qty[key] = (
            self._pending_qty.get(key, 0.0) + order.quantity - order.filled_quantity
        )
        self._publish_pending(order)

    def _remove_pending(self, order: Order) -> None:
        key = (order.asset, order.side)
        remaining = self._pending_qty.get(key, 0.0) - (order.quantity - order.filled_quantity)
        if remaining <= QUANTITY_EPSILON:
            self._pending_qty.pop(key, None)
        else:
            self._pending_qty[key] = remaining
        view = dict(self.pending_view)
        view.pop(order.order_id, None)
        self.pending_view = view

    def _publish_pending(self, order: Order) -> None:
        view = dict(self.pending_view)
        view[order.order_id] = copy.copy(order)
        self.pending_view = view

    def positions(self) -> Mapping[str, Holding]:
        return self.ledger.holdings

    def position_quantity(self, asset: str) -> float:
        return self.ledger.quantity(asset)

    def pending_quantity(self, asset: str, side: OrderSide) -> float:
        return self._pending_qty.get((asset, side), 0.0)

    def cash(self) -> float:
        return self.ledger.cash

    def equity(self) -> float:
        return self.ledger.cash + self._net

    def gross_exposure(self) -> float:
        return self._gross

    def net_exposure(self) -> float:
        return self._net

    def last_price(self, asset: str) -> float | None:
        return self.prices.get(asset)

    def last_bar_time(self, asset: str) -> datetime | None:
        return self.bar_times.get(asset)

    # --- exposure bookkeeping ----------------------------------------------------------------
    def _recompute_exposure(self) -> None:
        gross = net = 0.0
        prices = self.prices
        for asset, h in self.ledger.holdings.items():
            value = h.quantity * prices.get(asset, h.entry_price) * h.multiplier
            net += value
            gross += abs(value)
        self._gross, self._net = gross, net

    def _exposure_remove(self, asset: str) -> None:
        h = self.ledger.holdings.get(asset)
        if h is not None:
            value = h.quantity * self.prices.get(asset, h.entry_price) * h.multiplier
            self._gross -= abs(value)
            self._net -= value

    def _exposure_add(self, asset: str) -> None:
        h = self.ledger.holdings.get(asset)
        if h is not None:
            value = h.quantity * self.prices.get(asset, h.entry_price) * h.multiplier
            self._gross += abs(value)
            self._net += value
