"""Risk checks on `update_order` see the order's new *remaining* quantity (ml4t-backtest's
meaning of `quantity` there): the filled part is already in the position, counted once."""

from __future__ import annotations

import pytest
from ml4t.backtest import Fill, OrderSide, OrderStatus, OrderType
from ml4t_live_risk_order_size.check import OrderSizeCheck, OrderSizeConfig
from ml4t_live_testing.risk import START, risk_context

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.plugins import new_plugin_manager
from ml4t_live_core.protocols import FillEvent
from ml4t_live_core.risk import OrderRequest


class Seen:
    """Records what the checks were asked about."""

    def __init__(self) -> None:
        self.requests: list[OrderRequest] = []

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: object) -> None:
        self.requests.append(order)


async def _partly_filled_buy():  # type: ignore[no-untyped-def]
    """A working buy limit for 100 AAPL with 40 filled (reported as the venue reports fills)."""
    context = risk_context(prices={"AAPL": 100.0})
    await context.venue.connect()
    order = await context.submit_order("AAPL", 100, OrderSide.BUY, OrderType.LIMIT,
                                       limit_price=99.0)
    assert order.status is OrderStatus.PENDING
    fill = Fill(order_id=order.order_id, asset="AAPL", side=OrderSide.BUY, quantity=40.0,
                price=99.0, timestamp=START)
    context.venue._emit(FillEvent(fill, order_complete=False, execution_id="x-1"))
    assert context.ledger.quantity("AAPL") == 40.0
    seen = Seen()
    pm = new_plugin_manager()
    pm.register(seen, name="seen")
    pm.register(OrderSizeCheck(OrderSizeConfig(max_shares=80)), name="order-size")
    context.hooks = pm.hook
    return context, order.order_id, seen


async def test_a_price_change_is_checked_on_what_remains() -> None:
    context, order_id, seen = await _partly_filled_buy()
    assert await context.update_order(order_id, limit_price=98.5)  # 60 remain: within 80
    [request] = seen.requests
    assert (request.quantity, request.position_quantity, request.is_update) == (60.0, 40.0, True)
    assert request.projected_position == 100.0  # the filled 40 counted once, not twice
    assert context._orders[order_id].quantity == 100.0  # the total did not change


async def test_a_quantity_update_is_checked_as_the_new_remaining_quantity() -> None:
    context, order_id, seen = await _partly_filled_buy()
    assert not await context.update_order(order_id, quantity=90)  # 90 more > max 80
    assert "order-size: quantity 90 > max 80" in context.last_rejection_reason
    assert context._orders[order_id].quantity == 100.0  # refused: unchanged
    assert await context.update_order(order_id, quantity=70)  # 70 more: 40 + 70 in all
    assert [r.quantity for r in seen.requests] == [90.0, 70.0]
    assert seen.requests[-1].projected_position == 110.0
    order = context._orders[order_id]
    assert (order.quantity, order.filled_quantity) == (110.0, 40.0)
    assert context.venue._resting[order_id].quantity == 110.0  # the venue got the total
    assert context.pending_quantity("AAPL", OrderSide.BUY) == 70.0


async def test_update_reports_problems_as_the_backtest_does() -> None:
    context, order_id, seen = await _partly_filled_buy()
    with pytest.raises(ValueError, match=r"Cannot update order fields: \['side'\]"):
        await context.update_order(order_id, side=OrderSide.SELL)
    assert not await context.update_order("no-such-order", quantity=5)
    for bad in (0, -5, float("nan"), True):
        with pytest.raises(ValueError, match="Updated remaining quantity must be finite and "
                                             "positive"):
            await context.update_order(order_id, quantity=bad)
    assert seen.requests == []  # none of these reached the checks
