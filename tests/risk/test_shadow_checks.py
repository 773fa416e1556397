"""In shadow mode the risk checks decide on the virtual portfolio, never on the broker's account."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ml4t.backtest import OrderSide, OrderStatus, Position, Strategy
from ml4t_live_sim import SimBroker
from ml4t_live_testing.risk import order_request, risk_context

ONLY = "sim,exposure,max-positions"


class RecordingSimBroker(SimBroker):
    """The real broker: remembers every order that reaches it (none should, in shadow mode)."""

    def __init__(self, holdings: dict[str, float] | None = None) -> None:
        super().__init__()
        self.received: list = []
        when = datetime(2024, 1, 2, 14, 0, tzinfo=UTC)
        self.portfolio.replace_holdings(
            {
                asset: Position(asset=asset, quantity=qty, entry_price=100.0, entry_time=when)
                for asset, qty in (holdings or {}).items()
            }
        )

    async def submit_order(self, order):  # type: ignore[no-untyped-def]
        self.received.append(order)
        return await super().submit_order(order)


class Plan(Strategy):
    """Submits one planned order per bar and keeps what became of each."""

    def __init__(self, plan: list[tuple[str, float, OrderSide]]) -> None:
        self.plan = list(plan)
        self.results: list = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.plan:
            asset, qty, side = self.plan.pop(0)
            self.results.append(broker.submit_order(asset, qty, side))


def shadow(**risk):
    return {"runtime": {"shadow": True}, "risk": risk}


async def test_checks_reject_on_virtual_positions_the_broker_does_not_hold(make_runtime):
    """Virtual: one position worth ~1,000; real: nothing. Opening a second one breaks both
    limits on the virtual portfolio (it would pass on the real, empty account)."""
    real = RecordingSimBroker()
    strategy = Plan([("A000", 10, OrderSide.BUY), ("A001", 10, OrderSide.BUY)])
    runtime = make_runtime(
        strategy,
        broker=real,
        only=ONLY,
        overrides=shadow(
            **{"max-positions": {"max_positions": 1}, "exposure": {"max_gross": 1_500.0}}
        ),
    )
    await runtime.engine.run(install_signal_handlers=False)

    first, second = strategy.results
    assert first.status is not OrderStatus.REJECTED
    assert second.status is OrderStatus.REJECTED
    assert (
        "max-positions: opening A001 would make 2 positions (1 open, max 1)"
        in second.rejection_reason
    )
    assert "exposure: gross exposure would be" in second.rejection_reason
    assert set(runtime.safe.positions()) == {"A000"}
    assert real.received == [] and real.portfolio.holdings == {}


async def test_checks_accept_on_virtual_room_the_broker_account_does_not_have(make_runtime):
    """Real: A000 and A001 (~2,000 gross). Virtual: sold A000 in shadow. Opening A002 fits the
    virtual portfolio (1 position, ~2,000 gross after) though the real one is full (2, ~3,000)."""
    real = RecordingSimBroker({"A000": 10, "A001": 10})
    strategy = Plan([("A000", 10, OrderSide.SELL), ("A002", 10, OrderSide.BUY)])
    runtime = make_runtime(
        strategy,
        broker=real,
        only=ONLY,
        overrides=shadow(
            **{"max-positions": {"max_positions": 2}, "exposure": {"max_gross": 2_500.0}}
        ),
    )
    await runtime.engine.run(install_signal_handlers=False)

    assert all(o.status is not OrderStatus.REJECTED for o in strategy.results), [
        o.rejection_reason for o in strategy.results
    ]
    assert set(runtime.safe.positions()) == {"A001", "A002"}
    assert real.received == [] and set(real.portfolio.holdings) == {"A000", "A001"}
    # The very same check objects, asked about the real account, would have refused A002.
    broker_view = risk_context(
        positions={"A000": 10, "A001": 10},
        prices={a: runtime.safe.last_price(a) for a in ("A000", "A001", "A002")},
    )
    request = order_request(broker_view, "A002", 10, OrderSide.BUY)
    for name in ("max-positions", "exposure"):
        check = runtime.plugins.pm.get_plugin(f"risk-check:{name}")
        assert check.ml4t_live_check_order(order=request, context=broker_view).check == name


class Rebalance(Strategy):
    """Opens three positions in one callback, before any of them can fill."""

    def __init__(self) -> None:
        self.results: list = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if not self.results:
            self.results = [broker.submit_order(a, 10) for a in ("A000", "A001", "A002")]


@pytest.mark.parametrize(
    ("shadow_mode", "detail"),
    [(True, "(2 open, max 2)"), (False, "(0 open, 2 being opened, max 2)")],
)
async def test_a_rebalance_in_one_bar_is_limited_as_a_whole(make_runtime, shadow_mode, detail):
    """The shadow portfolio fills at once; the sim broker fills at the next open, so there the
    first two orders are still working when the third is checked. Both must stop the third."""
    strategy = Rebalance()
    overrides = shadow(**{"max-positions": {"max_positions": 2}})
    overrides["runtime"]["shadow"] = shadow_mode
    runtime = make_runtime(strategy, only=ONLY, overrides=overrides)
    await runtime.engine.run(install_signal_handlers=False)
    statuses = [o.status for o in strategy.results]
    assert statuses.count(OrderStatus.REJECTED) == 1 and statuses[-1] is OrderStatus.REJECTED
    assert strategy.results[-1].rejection_reason == (
        f"max-positions: opening A002 would make 3 positions {detail}"
    )
    assert set(runtime.safe.positions()) == {"A000", "A001"}
