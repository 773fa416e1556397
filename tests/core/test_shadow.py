"""Shadow mode: orders never reach the broker; a virtual portfolio fills them at market prices."""

from __future__ import annotations

import pytest
from ml4t.backtest import OrderSide, Strategy
from ml4t_live_sim import SimBroker

from ml4t_live_core.hookspecs import hookimpl

SHADOW = {"runtime": {"shadow": True}}


class CountingSimBroker(SimBroker):
    def __init__(self) -> None:
        super().__init__()
        self.received: list = []

    async def submit_order(self, order):  # type: ignore[no-untyped-def]
        self.received.append(order)
        return await super().submit_order(order)


class BuyUntilHeld(Strategy):
    def __init__(self) -> None:
        self.submitted = 0

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if broker.get_position("A000") is None:
            broker.submit_order("A000", 10)
            self.submitted += 1


async def test_buy_until_held_stops_buying_in_shadow_mode(make_runtime):
    strategy = BuyUntilHeld()
    broker = CountingSimBroker()
    runtime = make_runtime(strategy, broker=broker, overrides=SHADOW)
    await runtime.engine.run(install_signal_handlers=False)
    assert strategy.submitted == 1
    assert runtime.safe.ledger.quantity("A000") == 10
    assert broker.received == [] and broker.portfolio.holdings == {}


class Sequence(Strategy):
    """Buy 10, buy 10, sell 5 (partial close), sell 30 (flip to short 15)."""

    PLAN = [(OrderSide.BUY, 10), (OrderSide.BUY, 10), (OrderSide.SELL, 5), (OrderSide.SELL, 30)]

    def __init__(self) -> None:
        self.step = 0
        self.prices: list[float] = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.step < len(self.PLAN):
            side, qty = self.PLAN[self.step]
            broker.submit_order("A000", qty, side)
            self.prices.append(data["A000"]["close"])
            self.step += 1


async def test_shadow_flips_and_partial_closes_keep_cost_basis_and_cash(make_runtime):
    strategy = Sequence()
    runtime = make_runtime(strategy, overrides=SHADOW)
    await runtime.engine.run(install_signal_handlers=False)
    p1, p2, p3, p4 = strategy.prices
    safe = runtime.safe
    fills = [(f.side, f.quantity, f.price) for f in safe.fills]
    assert fills == [
        (OrderSide.BUY, 10, p1),
        (OrderSide.BUY, 10, p2),
        (OrderSide.SELL, 5, p3),
        (OrderSide.SELL, 30, p4),
    ]
    holding = safe.ledger.holdings["A000"]
    assert holding.quantity == -15 and holding.entry_price == pytest.approx(p4)
    average = (10 * p1 + 10 * p2) / 20
    assert safe.ledger.realized_pnl == pytest.approx((p3 - average) * 5 + (p4 - average) * 15)
    assert safe.ledger.cash == pytest.approx(100_000 - 10 * p1 - 10 * p2 + 5 * p3 + 30 * p4)


class SeesPosition:
    def __init__(self) -> None:
        self.seen: list[float] = []

    @hookimpl
    def ml4t_live_check_order(self, order, context):  # type: ignore[no-untyped-def]
        self.seen.append(context.position_quantity(order.asset))


async def test_checks_see_the_virtual_portfolio(make_runtime):
    probe = SeesPosition()
    strategy = Sequence()
    broker = CountingSimBroker()
    runtime = make_runtime(
        strategy, broker=broker, overrides=SHADOW, extra_plugins=[(probe, "probe")]
    )
    await runtime.engine.run(install_signal_handlers=False)
    assert probe.seen == [0, 10, 20, 15]
    assert broker.portfolio.holdings == {}


async def test_market_order_without_any_price_is_rejected_in_shadow_mode(make_runtime):
    class BuyUnknown(Strategy):
        def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
            if not hasattr(self, "order"):
                self.order = broker.submit_order("ZZZZ", 1)

    strategy = BuyUnknown()
    runtime = make_runtime(strategy, overrides=SHADOW)
    await runtime.engine.run(install_signal_handlers=False)
    assert (
        strategy.order.status.value == "rejected"
        and "no market price" in strategy.order.rejection_reason
    )
    assert runtime.safe.ledger.holdings == {}
