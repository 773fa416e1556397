"""History: the orders, fills, rejections and execution ids a live process keeps, bounded.

A live process runs for weeks, so nothing here may grow with every order. Open orders are
always kept (they can still fill, be cancelled or be modified); finished orders, fills and
rejections are kept for the most recent `limit` of each. That is what the strategy can read
back through `get_orders`, `get_order`, `get_fills` and `get_rejected_orders`; an order that
has left the history reads as unknown (`get_order` returns None, as the backtest does for an
id it never saw). The journal keeps the complete record.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ml4t.backtest import Fill, Order

#: Default for `[runtime] history_limit`: ≈ 27 MB when full (≈ 2.7 kB per finished order with
#: its fill, measured by benchmarks/bench_soak.py).
DEFAULT_HISTORY_LIMIT = 10_000


class History:
    """Orders by id (open ones always, the last `limit` finished ones), the last `limit` fills
    and rejections, and the execution ids needed to drop duplicated executions."""

    def __init__(self, limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"history limit must be a positive integer, got {limit!r}")
        self.limit = limit
        #: Every open order and the `limit` most recently finished ones, in submission order.
        self.orders: dict[str, Order] = {}
        #: The `limit` most recent fills and rejected orders, oldest first.
        self.fills: deque[Fill] = deque(maxlen=limit)
        self.rejected: deque[Order] = deque(maxlen=limit)
        # Finished order ids, oldest first. An OrderedDict, not a dict: finding the oldest key of
        # a plain dict scans the deleted slots at its front, O(limit) per eviction.
        self._finished: OrderedDict[str, None] = OrderedDict()
        # Execution ids applied, per order still in `orders`: kept exactly as long as the order
        # is, so a duplicate for an open order is always caught, however old the order.
        self._executions: dict[str, set[str]] = {}
        # Execution ids whose order is not (or no longer) in `orders`: the `limit` most recent.
        self._recent_executions: OrderedDict[str, None] = OrderedDict()

    def finished(self, order: Order) -> None:
        """`order` reached a final state (filled, cancelled, rejected): it stays readable until
        `limit` orders have finished after it, then it leaves `orders`."""
        order_id = order.order_id
        if order_id in self._finished or order_id not in self.orders:
            return
        self._finished[order_id] = None
        while len(self._finished) > self.limit:
            oldest, _ = self._finished.popitem(last=False)
            self.orders.pop(oldest, None)
            for execution_id in self._executions.pop(oldest, ()):
                self._remember_recent(execution_id)

    def first_execution(self, order_id: str, execution_id: str) -> bool:
        """True the first time an execution is seen (apply it), False for a duplicate (drop it).

        Ids of an order still tracked are never forgotten. Once a finished order leaves the
        history its ids move to a window of the `limit` most recent untracked ids, and then
        drop out. A duplicate after that is not a risk worth the memory: it would have to
        arrive after `limit` later orders finished, while broker adapters already drop
        replayed executions at the source (IB by execution id, Alpaca by cumulative filled
        quantity), and a process restarted at any time starts with no ids at all.
        """
        if execution_id in self._recent_executions:
            return False
        if order_id in self.orders:
            seen = self._executions.setdefault(order_id, set())
            if execution_id in seen:
                return False
            seen.add(execution_id)
        else:
            self._remember_recent(execution_id)
        return True

    def sizes(self) -> dict[str, int]:
        """How much is kept right now (for tests, status and benchmarks)."""
        return {
            "orders": len(self.orders),
            "open_orders": len(self.orders) - len(self._finished),
            "finished_orders": len(self._finished),
            "fills": len(self.fills),
            "rejected": len(self.rejected),
            "execution_ids": sum(map(len, self._executions.values()))
            + len(self._recent_executions),
        }

    def _remember_recent(self, execution_id: str) -> None:
        self._recent_executions[execution_id] = None
        if len(self._recent_executions) > self.limit:
            self._recent_executions.popitem(last=False)
