"""Strategy-registered `TradingControl`s see the same `OrderControlContext` live as backtested."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from typing import Any

import pytest
from ml4t.backtest import OrderType, Strategy, run_backtest
from ml4t.backtest.controls import (
    OrderConstraints,
    OrderControlContext,
    OrderRequestCount,
    TradingControlViolation,
)
from ml4t.backtest.example_data import load_example_prices


class Recorder:
    """A control that keeps every context it is asked about and refuses quantities over 40."""

    def __init__(self) -> None:
        self.seen: list[OrderControlContext] = []

    def validate(self, request: OrderControlContext) -> None:
        self.seen.append(request)
        if abs(request.quantity) > 40:
            raise TradingControlViolation(f"quantity {abs(request.quantity):g} > 40")


class Exercise(Strategy):
    """Market and resting limit orders, a violation, an update, a close and an order after it."""

    def __init__(self, *controls: Any) -> None:
        self.recorder = Recorder()
        self.controls = controls
        self.bar = 0
        self.violations: list[str] = []
        self.resting: str | None = None

    def on_start(self, broker: Any) -> None:
        broker.register_trading_control(self.recorder)
        for control in self.controls:
            broker.register_trading_control(control)

    def _try(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except TradingControlViolation as exc:
            self.violations.append(f"bar {self.bar}: {exc}")
            return None

    def on_data(self, timestamp: Any, data: dict, context: dict, broker: Any) -> None:
        self.bar += 1
        if self.bar in (2, 3, 5):
            self._try(broker.submit_order, "AAPL", 10)
            self._try(broker.submit_order, "MSFT", 5)
            self._try(broker.submit_order, "MSFT", 1)
        elif self.bar == 4:
            order = self._try(
                broker.submit_order, "AAPL", 7, order_type=OrderType.LIMIT, limit_price=1.0
            )
            self.resting = order.order_id if order is not None else None
            self._try(broker.submit_order, "AAPL", 50)
        elif self.bar == 6 and self.resting is not None:
            self._try(broker.update_order, self.resting, quantity=8)
            self._try(broker.update_order, self.resting, quantity=45)
        elif self.bar == 8:
            self._try(broker.close_position, "MSFT")
            self._try(broker.submit_order, "MSFT", -3)


def _comparable(request: OrderControlContext) -> OrderControlContext:
    # The example data is naive; the live feed reads it as UTC. Compare the instant.
    stamp = request.timestamp
    if stamp is not None and stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return dataclasses.replace(request, timestamp=stamp, quantity=float(request.quantity),
                               price=None if request.price is None else float(request.price))


async def _both(make_runtime: Any, *controls: Any) -> tuple[Exercise, Exercise]:
    prices = load_example_prices("equity")
    backtest = Exercise(*controls)
    run_backtest(prices, backtest)
    live = Exercise(*controls)
    await make_runtime(live, data=prices).engine.run(install_signal_handlers=False)
    return backtest, live


async def test_controls_get_the_backtests_context_for_orders_updates_and_closes(make_runtime):
    backtest, live = await _both(make_runtime)
    expected = [_comparable(r) for r in backtest.recorder.seen]
    assert any(r.is_update for r in expected), "the scenario must exercise update_order"
    assert any(r.pending_buy_quantity for r in expected), "and a pending order"
    assert any(r.orders_in_session > 1 for r in expected), "and counts within a session"
    assert [_comparable(r) for r in live.recorder.seen] == expected
    assert live.violations == backtest.violations and len(live.violations) == 2


@pytest.mark.parametrize(
    "control",
    [
        OrderConstraints(max_orders_per_session=2),
        OrderConstraints(max_orders_per_day=2),
        OrderRequestCount(max_count=4, timezone="America/New_York"),
    ],
    ids=["per-session", "per-day", "request-count"],
)
async def test_counting_controls_fire_on_the_same_orders_live(make_runtime, control):
    backtest, live = await _both(make_runtime, control)
    assert backtest.violations, "the limit must be reached in the scenario"
    assert live.violations == backtest.violations
