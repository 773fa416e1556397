"""HALTED lets closes that reduce risk through the kill switch, but not past the other checks:
a close of a blocked asset is still stopped by asset-filter, a fat-finger close by price-collar."""

from __future__ import annotations

from datetime import UTC, datetime

from ml4t.backtest import OrderSide, OrderStatus, OrderType, Position, Strategy
from ml4t_live_risk_kill_switch.check import KillSwitchCheck
from ml4t_live_risk_price_collar.check import PriceCollarCheck, PriceCollarConfig
from ml4t_live_sim import SimBroker
from ml4t_live_testing.risk import risk_context

from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import new_plugin_manager
from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.risk import TradingState

START = datetime(2024, 1, 2, 14, 0, tzinfo=UTC)


class Flatten(Strategy):
    """On the first bar: flatten everything, then try to open something new."""

    def __init__(self) -> None:
        self.closes: dict[str, tuple[OrderStatus, str]] = {}
        self.opening: tuple[OrderStatus, str] | None = None

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.opening is not None:
            return
        for order in broker.flatten_all_positions("halted: get out"):
            self.closes[order.asset] = (order.status, order.rejection_reason or "")
        order = broker.submit_order("A002", 1)
        self.opening = (order.status, order.rejection_reason or "")


async def test_flatten_while_halted_passes_the_kill_switch_but_not_the_asset_filter(make_runtime):
    broker = SimBroker()
    broker.portfolio.replace_holdings({
        asset: Position(asset=asset, quantity=10, entry_price=100.0, entry_time=START)
        for asset in ("A000", "A001")
    })
    store = MemoryStateStore()
    await store.write_trading_state(TradingStateRecord(TradingState.HALTED, "operator", START))
    strategy = Flatten()
    runtime = make_runtime(
        strategy, broker=broker, store=store, only="sim,kill-switch,asset-filter,price-collar",
        overrides={"risk": {"asset-filter": {"blocked": ["A001"]}}},
    )
    await runtime.engine.run(install_signal_handlers=False)

    assert runtime.safe.trading_state is TradingState.HALTED
    allowed_status, allowed_reason = strategy.closes["A000"]
    assert allowed_status is not OrderStatus.REJECTED, allowed_reason
    blocked_status, blocked_reason = strategy.closes["A001"]
    assert blocked_status is OrderStatus.REJECTED
    assert "asset-filter: A001 is on the blocked list" in blocked_reason
    assert "kill-switch" not in blocked_reason  # the kill switch let this close through
    assert strategy.opening is not None and strategy.opening[0] is OrderStatus.REJECTED
    assert "kill-switch" in strategy.opening[1]
    assert runtime.safe.ledger.quantity("A000") == 0 and runtime.safe.ledger.quantity("A001") == 10


async def test_a_fat_finger_close_while_halted_is_stopped_by_the_price_collar():
    context = risk_context(positions={"AAPL": 100.0}, prices={"AAPL": 150.0})
    pm = new_plugin_manager()
    pm.register(KillSwitchCheck(), name="kill-switch")
    pm.register(PriceCollarCheck(PriceCollarConfig(max_deviation_pct=5.0)), name="price-collar")
    context.hooks = pm.hook
    await context.venue.connect()
    context.set_trading_state(TradingState.HALTED, "operator")

    fat = await context.submit_order("AAPL", 100, OrderSide.SELL, OrderType.LIMIT, limit_price=15.0,
                                     is_close=True)
    assert fat.status is OrderStatus.REJECTED
    assert fat.rejection_reason == "price-collar: limit 15.00 is 90.0% from last 150.00 (max 5.0%)"

    sane = await context.submit_order("AAPL", 100, OrderSide.SELL, OrderType.LIMIT,
                                      limit_price=149.0, is_close=True)
    assert sane.status is OrderStatus.PENDING, sane.rejection_reason
    not_a_close = await context.submit_order("AAPL", 10, OrderSide.SELL, OrderType.LIMIT,
                                             limit_price=149.0)
    assert not_a_close.rejection_reason.startswith("kill-switch: trading is HALTED (operator)")
