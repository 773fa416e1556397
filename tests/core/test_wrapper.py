"""The live wrapper: ml4t-backtest strategies run unchanged, rejections look like the backtest's."""

from __future__ import annotations

import pytest
from ml4t.backtest import Broker, OrderStatus, RebalanceConfig, Strategy, TargetWeightExecutor
from ml4t.backtest.controls import OrderConstraints, TradingControlViolation
from ml4t.backtest.example_data import ExampleRoundTrip, load_example_prices

from ml4t_live_core.errors import BacktestOnlyError, RiskLimitError
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import Rejection


async def test_bundled_example_round_trip_runs_unchanged(make_runtime):
    prices = load_example_prices("equity")
    strategy = ExampleRoundTrip("AAPL", 10)
    runtime = make_runtime(strategy, data=prices)
    await runtime.engine.run(install_signal_handlers=False)
    fills = runtime.safe.fills
    assert [(f.asset, f.side.name, f.quantity) for f in fills] == [
        ("AAPL", "BUY", 10),
        ("AAPL", "SELL", 10),
    ]
    assert runtime.safe.ledger.holdings == {}


class EqualWeight(Strategy):
    """Plain ml4t-backtest code: TargetWeightExecutor every 10 bars."""

    def __init__(self) -> None:
        self.executor = TargetWeightExecutor(RebalanceConfig())
        self.bars = 0
        self.submitted: list = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.bars += 1
        if self.bars % 10 == 1:
            self.submitted += self.executor.execute({a: 0.3 for a in data}, data, broker)


async def test_target_weight_executor_rebalances_through_the_wrapper(make_runtime):
    strategy = EqualWeight()
    runtime = make_runtime(strategy)
    await runtime.engine.run(install_signal_handlers=False)
    safe = runtime.safe
    assert strategy.submitted and all(
        o.order_id.startswith("test.default-") for o in strategy.submitted
    )
    equity = safe.equity()
    for asset, holding in safe.ledger.holdings.items():
        weight = holding.quantity * safe.prices[asset] / equity
        assert weight == pytest.approx(0.3, abs=0.02)


class CallsBacktestOnly(Strategy):
    def __init__(self) -> None:
        self.error: Exception | None = None

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.error is None:
            try:
                broker.set_position_rules(None)
            except BacktestOnlyError as exc:
                self.error = exc


async def test_backtest_only_method_raises_naming_it(make_runtime):
    strategy = CallsBacktestOnly()
    await make_runtime(strategy).engine.run(install_signal_handlers=False)
    assert isinstance(strategy.error, BacktestOnlyError)
    assert "set_position_rules" in str(strategy.error)


class WithControl(Strategy):
    def __init__(self) -> None:
        self.violations: list[str] = []
        self.done = False

    def on_start(self, broker):  # type: ignore[no-untyped-def]
        broker.register_trading_control(OrderConstraints(max_order_quantity=50))

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.done:
            return
        self.done = True
        asset = sorted(data)[0]
        broker.submit_order(asset, 50)
        try:
            broker.submit_order(asset, 51)
        except TradingControlViolation as exc:
            self.violations.append(str(exc))


async def test_strategy_registered_trading_control_raises_like_the_backtest(make_runtime):
    strategy = WithControl()
    runtime = make_runtime(strategy)
    await runtime.engine.run(install_signal_handlers=False)
    assert strategy.violations == ["order quantity 51.0 exceeds 50"]
    assert runtime.safe.stats.orders_submitted == 1


class MaxQuantity:
    """An in-process risk check (a plugin object, registered like a third-party one)."""

    @hookimpl
    def ml4t_live_check_order(self, order, context):  # type: ignore[no-untyped-def]
        if order.quantity > 10:
            return Rejection("max-qty", f"quantity {order.quantity:g} > max 10")
        return None


class AlwaysNo:
    @hookimpl
    def ml4t_live_check_order(self, order, context):  # type: ignore[no-untyped-def]
        return Rejection("always-no", "testing")


class BigThenSmall(Strategy):
    def __init__(self) -> None:
        self.orders: list = []
        self.reason: str | None = None
        self.raised: list[Exception] = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.orders or self.raised:
            return
        try:
            self.orders.append(broker.submit_order("A000", 20))
            self.orders.append(broker.submit_order("A001", 5))
        except RiskLimitError as exc:
            self.raised.append(exc)
        self.reason = broker.last_rejection_reason
        self.rejected = broker.get_rejected_orders()


async def test_risk_rejection_comes_back_as_rejected_order_and_the_rest_continues(make_runtime):
    strategy = BigThenSmall()
    runtime = make_runtime(
        strategy, extra_plugins=[(MaxQuantity(), "max-qty"), (AlwaysNo(), "always-no")]
    )
    runtime.plugins.pm.unregister(name="always-no")
    await runtime.engine.run(install_signal_handlers=False)
    big, small = strategy.orders
    assert (
        big.status is OrderStatus.REJECTED
        and "max-qty: quantity 20 > max 10" in big.rejection_reason
    )
    assert small.status is not OrderStatus.REJECTED
    assert strategy.reason == big.rejection_reason
    assert [o.order_id for o in strategy.rejected] == [big.order_id]
    assert runtime.safe.ledger.quantity("A001") == 5 and runtime.safe.ledger.quantity("A000") == 0


async def test_all_rejections_of_one_order_are_reported_together(make_runtime):
    strategy = BigThenSmall()
    runtime = make_runtime(
        strategy, extra_plugins=[(MaxQuantity(), "max-qty"), (AlwaysNo(), "always-no")]
    )
    await runtime.engine.run(install_signal_handlers=False)
    big = strategy.orders[0]
    assert "max-qty:" in big.rejection_reason and "always-no: testing" in big.rejection_reason


async def test_raise_on_rejection_raises_a_trading_control_violation(make_runtime):
    strategy = BigThenSmall()
    runtime = make_runtime(
        strategy,
        extra_plugins=[(MaxQuantity(), "max-qty")],
        overrides={"runtime": {"raise_on_rejection": True}},
    )
    await runtime.engine.run(install_signal_handlers=False)
    (error,) = strategy.raised
    assert isinstance(error, TradingControlViolation) and error.checks == ("max-qty",)
    assert runtime.safe.stats.orders_rejected == 1


class ReadsEveryBrokerName(Strategy):
    """On the 3rd bar (after fills), touches every public name of the backtest Broker."""

    def __init__(self) -> None:
        self.bars = 0
        self.outcomes: dict[str, object] = {}
        self.views: dict[str, tuple] = {}

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.bars += 1
        if self.bars == 1:
            broker.submit_order("A000", 5)
        if self.bars != 3:
            return
        for name in (n for n in dir(Broker) if not n.startswith("_")):
            try:
                getattr(broker, name)
                self.outcomes[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - recording what happened is the test
                self.outcomes[name] = exc
        self.views = {
            "cash": (broker.cash, broker.get_cash()),
            "orders": ([o.order_id for o in broker.orders],
                       [o.order_id for o in broker.get_orders()]),
            "fills": ([f.order_id for f in broker.fills], [f.order_id for f in broker.get_fills()]),
        }


async def test_every_backtest_broker_name_works_live_or_raises_naming_itself(make_runtime):
    strategy = ReadsEveryBrokerName()
    await make_runtime(strategy).engine.run(install_signal_handlers=False)
    assert len(strategy.outcomes) >= 60
    for name, outcome in strategy.outcomes.items():
        if outcome != "ok":
            assert isinstance(outcome, BacktestOnlyError) and name in str(outcome), (name, outcome)
    # the read surface strategies use as attributes has live meanings, equal to the getters
    for name in ("cash", "orders", "fills", "positions", "pending_orders", "last_rejection_reason"):
        assert strategy.outcomes[name] == "ok", name
    for name, (attribute, getter) in strategy.views.items():
        assert attribute == getter, name
    assert strategy.views["fills"][0]  # the first bar's order filled: the comparison saw something
