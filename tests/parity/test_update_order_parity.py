"""`update_order(quantity=...)` after a partial fill means the same thing live as in the
backtest: the new *remaining* quantity (ml4t-backtest 0.2), not a new total."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from ml4t.backtest import OrderSide, OrderStatus, Strategy
from ml4t.backtest.controls import OrderControlContext

from ml4t_live_core.parity import run_parity

PARTICIPATION = 0.1  # of a 400-share bar: at most 40 shares fill per bar


def bars(n: int = 8) -> pl.DataFrame:
    start = datetime(2024, 1, 2, tzinfo=UTC)
    return pl.DataFrame(
        [
            {
                "timestamp": start + timedelta(days=i),
                "asset": "AAA",
                "open": 100.0 + i,
                "high": 101.0 + i,
                "low": 99.0 + i,
                "close": 100.5 + i,
                "volume": 400.0,
            }
            for i in range(n)
        ]
    )


class Witness:
    """A trading control that objects to nothing and records what it was asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float, float, float, bool]] = []

    def validate(self, request: OrderControlContext) -> None:
        self.seen.append(
            (
                request.quantity,
                request.position_quantity,
                request.pending_buy_quantity,
                request.pending_sell_quantity,
                request.is_update,
            )
        )


class TopUpAfterPartialFill(Strategy):
    """Buy 100; once part has filled, ask for `new_remaining` more (whatever has filled)."""

    def __init__(self, new_remaining: float):
        self.new_remaining = new_remaining
        self.order_id: str | None = None
        self.updated: bool | None = None
        self.filled_before_update = 0.0
        self.seen: list[tuple[str, float]] = []  # (status, filled) on every bar after submit
        self.control = Witness()

    def on_start(self, broker: Any) -> None:
        broker.register_trading_control(self.control)

    def on_data(self, timestamp: datetime, data: dict, context: dict, broker: Any) -> None:
        if self.order_id is None:
            self.order_id = broker.submit_order("AAA", 100, OrderSide.BUY).order_id
            return
        order = broker.get_order(self.order_id)
        self.seen.append((order.status.value, order.filled_quantity))
        if self.updated is None and order.filled_quantity > 0:
            self.filled_before_update = order.filled_quantity
            self.updated = broker.update_order(self.order_id, quantity=self.new_remaining)


@pytest.mark.parametrize("timing", ["next_open", "close"])
@pytest.mark.parametrize("new_remaining", [50.0, 30.0])
def test_update_after_partial_fill_matches_the_backtest(sim_only, timing, new_remaining):
    made: list[TopUpAfterPartialFill] = []

    def make() -> TopUpAfterPartialFill:
        made.append(TopUpAfterPartialFill(new_remaining))
        return made[-1]

    report = run_parity(
        make,
        bars(),
        broker_settings={"fill_timing": timing, "max_volume_participation": PARTICIPATION},
        plugins=sim_only,
    )
    backtest, live = made
    assert report.ok, report.differences
    assert backtest.updated is True and live.updated is True
    assert live.seen == backtest.seen
    assert report.live.fills == report.backtest.fills
    assert live.filled_before_update == backtest.filled_before_update
    # the strategy's own controls saw the update the same way: the new remaining quantity
    assert live.control.seen == backtest.control.seen
    assert live.control.seen[-1] == (new_remaining, live.filled_before_update, 0.0, 0.0, True)
    # what had filled before the update, then the new remaining quantity on top of it; read
    # as a new total, 30 would be below what had filled and 50 would stop 40 shares short
    total = live.filled_before_update + new_remaining
    assert live.filled_before_update % 40 == 0 and live.filled_before_update < 100
    assert sum(f.quantity for f in report.live.fills) == total
    assert report.live.positions == report.backtest.positions == {"AAA": total}
    assert live.seen[-1] == (OrderStatus.FILLED.value, total)


class MisusesUpdate(Strategy):
    """Calls `update_order` wrongly in each way and records how the broker answered."""

    def __init__(self) -> None:
        self.order_id: str | None = None
        self.answers: list[str] = []

    def on_data(self, timestamp: datetime, data: dict, context: dict, broker: Any) -> None:
        if self.order_id is None:
            self.order_id = broker.submit_order("AAA", 100, OrderSide.BUY).order_id
            return
        if self.answers:
            return
        for order_id, changes in [
            (self.order_id, {"side": OrderSide.SELL, "quantity": 5}),
            ("no-such-order", {"quantity": 5}),
            (self.order_id, {"quantity": 0}),
            (self.order_id, {"quantity": float("inf")}),
        ]:
            try:
                self.answers.append(repr(broker.update_order(order_id, **changes)))
            except ValueError as exc:
                self.answers.append(f"ValueError: {str(exc)[:28]}")


def test_update_order_reports_misuse_as_the_backtest_does(sim_only):
    made: list[MisusesUpdate] = []
    report = run_parity(
        lambda: made.append(MisusesUpdate()) or made[-1],
        bars(4),
        broker_settings={"max_volume_participation": PARTICIPATION},
        plugins=sim_only,
    )
    backtest, live = made
    assert live.answers == backtest.answers == [
        "ValueError: Cannot update order fields: ",
        "False",
        "ValueError: Updated remaining quantity m",
        "ValueError: Updated remaining quantity m",
    ]
    assert report.ok, report.differences
