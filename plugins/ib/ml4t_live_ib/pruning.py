"""Keep ib_async's own records bounded: it holds every trade and execution of a connection
until the connection closes, and a connection may last weeks.

What the adapter's tracker no longer needs (finished orders it forgot, completed orders and
executions IB re-sends on reconciliation) is dropped from ib_async's wrapper too. Nothing is
lost: ib_async only uses these records to route later messages, and a later message for a
dropped order is one the tracker ignores anyway (it no longer tracks the orderRef).
"""

from __future__ import annotations

from collections.abc import Callable

import ib_async


def drop_trade(wrapper: ib_async.Wrapper, trade: ib_async.Trade) -> None:
    """Forget one finished trade and its executions."""
    order = trade.order
    for key in (wrapper.orderKey(order.clientId, order.orderId, order.permId), order.permId):
        if wrapper.trades.get(key) is trade:
            del wrapper.trades[key]
    if wrapper.permId2Trade.get(order.permId) is trade:
        del wrapper.permId2Trade[order.permId]
    for fill in trade.fills:
        wrapper.fills.pop(fill.execution.execId, None)


def sweep(wrapper: ib_async.Wrapper, tracks: Callable[[str], bool]) -> None:
    """Drop every execution and every finished trade whose orderRef `tracks` does not know."""
    for exec_id, fill in list(wrapper.fills.items()):
        if not tracks(fill.execution.orderRef):
            del wrapper.fills[exec_id]
    for key, trade in list(wrapper.trades.items()):
        if trade.isDone() and not tracks(trade.order.orderRef):
            del wrapper.trades[key]
            if wrapper.permId2Trade.get(trade.order.permId) is trade:
                del wrapper.permId2Trade[trade.order.permId]
