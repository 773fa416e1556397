"""Updating a working order under the kill switch: in REDUCING an update that keeps the order
reducing passes (a stop can still be moved), one that would grow or flip the position does not;
in HALTED no update passes."""

from __future__ import annotations

from ml4t.backtest import OrderSide, OrderStatus, OrderType
from ml4t_live_risk_kill_switch.check import KillSwitchCheck
from ml4t_live_testing.risk import risk_context

from ml4t_live_core.plugins import new_plugin_manager
from ml4t_live_core.risk import TradingState


async def _working_sell(state: TradingState):  # type: ignore[no-untyped-def]
    context = risk_context(positions={"AAPL": 100.0}, prices={"AAPL": 150.0})
    pm = new_plugin_manager()
    pm.register(KillSwitchCheck(), name="kill-switch")
    context.hooks = pm.hook
    await context.venue.connect()
    order = await context.submit_order("AAPL", 60, OrderSide.SELL, OrderType.LIMIT,
                                       limit_price=155.0)
    assert order.status is OrderStatus.PENDING
    context.set_trading_state(state, "operator")
    return context, order.order_id


async def test_reducing_lets_an_update_that_still_reduces_through() -> None:
    context, order_id = await _working_sell(TradingState.REDUCING)
    assert await context.update_order(order_id, limit_price=152.0)
    assert await context.update_order(order_id, quantity=100)  # exactly flat: still reducing
    assert not await context.update_order(order_id, quantity=100.5)  # would flip short
    assert "kill-switch: trading is REDUCING" in context.last_rejection_reason


async def test_reducing_counts_the_other_working_orders_on_the_same_side() -> None:
    context, order_id = await _working_sell(TradingState.ACTIVE)
    other = await context.submit_order("AAPL", 30, OrderSide.SELL, OrderType.LIMIT,
                                       limit_price=156.0)
    assert other.status is OrderStatus.PENDING
    context.set_trading_state(TradingState.REDUCING, "operator")
    assert await context.update_order(order_id, quantity=70)  # 70 + 30 = the whole position
    assert not await context.update_order(order_id, quantity=71)  # 71 + 30 would flip


async def test_halted_rejects_every_update() -> None:
    context, order_id = await _working_sell(TradingState.HALTED)
    assert not await context.update_order(order_id, limit_price=152.0)
    assert "kill-switch: trading is HALTED" in context.last_rejection_reason
