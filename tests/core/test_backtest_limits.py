"""Live risk limits inside ml4t-backtest: the same checks as a TradingControl, counted by check."""

from __future__ import annotations

import functools
import importlib.metadata
import math
import os
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ml4t.backtest import Strategy, run_backtest
from ml4t.backtest.controls import OrderControlContext, TradingControlViolation
from ml4t.backtest.example_data import load_example_prices
from ml4t.backtest.risk import ScaledExit

from ml4t_live_core.backtest_limits import LimitViolation, LiveLimits
from ml4t_live_core.errors import ConfigError
from ml4t_live_core.plugins import ENTRY_POINT_GROUP, LOAD_ENV_VAR
from ml4t_live_core.risk import TradingState

MINE = "sim,kill-switch,asset-filter,duplicate,rate-limit,order-size,position-size"
#: Every installed risk check (whoever wrote it) plus sim, and nothing else that might be broken.
ALL_CHECKS = ",".join(
    ["sim"]
    + [
        ep.name
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name.startswith("ml4t-live-risk-")
    ]
)


@pytest.fixture
def prices():
    return load_example_prices("equity")


@pytest.fixture
def only_my_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOAD_ENV_VAR, MINE)


class Accumulate(Strategy):
    """Buys 20 AAPL every bar and tries a 500-share MSFT order every other bar."""

    def __init__(self) -> None:
        self.aapl_attempts = self.msft_attempts = 0
        self.returned_none = 0

    def on_data(self, timestamp: datetime, data: dict, context: dict, broker: Any) -> None:
        self.aapl_attempts += 1
        if broker.submit_order("AAPL", 20) is None:
            self.returned_none += 1
        if self.aapl_attempts % 2:
            self.msft_attempts += 1
            if broker.submit_order("MSFT", 500) is None:
                self.returned_none += 1


def test_run_backtest_with_live_limits_rejects_and_counts_by_check(prices, only_my_checks):
    limits = LiveLimits.from_config(
        overrides={
            "risk": {
                "order-size": {"max_shares": 100},
                "position-size": {"max_shares": 100},
                "asset-filter": {"blocked": ["msft"]},
            }
        }
    )
    strategy = Accumulate()
    result = run_backtest(prices, limits.wrap(strategy))

    # Every MSFT order broke two limits; both are counted (all rejections, not the first).
    assert limits.counts["order-size"] == strategy.msft_attempts
    assert limits.counts["asset-filter"] == strategy.msft_attempts
    # AAPL: 5 orders of 20 reach the 100-share position cap, the rest are rejected; the MSFT
    # orders would also have made a 500-share position.
    assert limits.counts["position-size"] == strategy.msft_attempts + strategy.aapl_attempts - 5
    assert strategy.returned_none == strategy.msft_attempts + strategy.aapl_attempts - 5
    assert {f.asset for f in result.fills} == {"AAPL"}
    assert sum(f.quantity for f in result.fills) == 100
    summary = limits.summary()
    assert summary["checked"] == strategy.aapl_attempts + strategy.msft_attempts
    assert summary["accepted"] == 5
    assert summary["rejected"] == len(limits.rejections) == summary["checked"] - 5
    assert any(
        "position-size" in reason and "max 100" in reason
        for r in limits.rejections
        for reason in r.reasons
    )


def test_default_limits_do_not_change_a_plain_backtest(prices, monkeypatch):
    monkeypatch.setenv(LOAD_ENV_VAR, ALL_CHECKS)  # every installed check, at its defaults

    class Small(Strategy):
        def on_data(self, timestamp, data, context, broker):
            broker.submit_order("AAPL", 5)

    plain = run_backtest(prices, Small())
    limits = LiveLimits.from_config()
    limited = run_backtest(prices, limits.wrap(Small()))
    assert limits.counts == {}, limits.rejections[:3]
    assert [(f.asset, f.quantity, f.price) for f in limited.fills] == [
        (f.asset, f.quantity, f.price) for f in plain.fills
    ]


def test_halt_in_a_backtest_lets_only_the_closing_order_through(prices, only_my_checks):
    limits = LiveLimits.from_config()

    class HaltOnFifthBar(Strategy):
        bar = 0

        def on_data(self, timestamp, data, context, broker):
            self.bar += 1
            if self.bar == 5:
                limits.context.set_trading_state(TradingState.HALTED, "test halt")
                broker.close_position("AAPL")
            broker.submit_order("AAPL", 10)

    result = run_backtest(prices, limits.wrap(HaltOnFifthBar()))
    bars = prices["timestamp"].n_unique()
    assert limits.counts["kill-switch"] == bars - 4  # every buy from bar 5 on
    assert limits.context.transitions[0][1:] == (TradingState.HALTED, "test halt")
    sold = [f for f in result.fills if f.side.value == "sell"]
    assert len(sold) == 1 and sold[0].quantity == 40  # the close of the 4 x 10 bought


def test_raise_on_rejection_reaches_the_strategy_as_trading_control_violation(
    prices, only_my_checks
):
    limits = LiveLimits.from_config(overrides={"risk": {"order-size": {"max_shares": 10}}})
    caught: list[TradingControlViolation] = []

    class Catches(Strategy):
        def on_data(self, timestamp, data, context, broker):
            try:
                broker.submit_order("AAPL", 11)
            except TradingControlViolation as exc:
                caught.append(exc)

    run_backtest(prices, limits.wrap(Catches(), raise_on_rejection=True))
    assert caught and all(isinstance(e, LimitViolation) for e in caught)
    assert "order-size: quantity 11 > max 10" in str(caught[0])
    assert limits.counts["order-size"] == len(caught)


def _request(**changes: Any) -> OrderControlContext:
    values = dict(
        timestamp=datetime(2024, 1, 2, 16),
        asset="AAPL",
        quantity=10.0,
        position_quantity=0.0,
        pending_buy_quantity=0.0,
        pending_sell_quantity=0.0,
        price=100.0,
        multiplier=1.0,
        session_date=None,
        orders_in_session=0,
        orders_in_day=0,
    )
    return OrderControlContext(**(values | changes))


class _Broker:
    """The few members the context reads when no bar has been marked."""

    positions: dict = {}
    pending_orders: list = []
    fills: list = []

    def get_last_price(self, asset):
        return None

    def get_multiplier(self, asset):
        return 1.0

    def get_cash(self):
        return 1e6

    def get_account_value(self):
        return 1e6

    def register_trading_control(self, control):
        self.control = control


def test_validate_uses_the_request_price_multiplier_and_pending(only_my_checks):
    limits = LiveLimits.from_config(
        overrides={
            "risk": {"order-size": {"max_value": 5_000}, "position-size": {"max_shares": 100}}
        }
    )
    limits.attach(_Broker())
    limits.validate(_request(quantity=50.0, price=100.0))  # $5,000: just inside
    with pytest.raises(LimitViolation, match=r"order-size: value \$5,100.00"):
        limits.validate(_request(quantity=1.0, price=100.0, multiplier=51.0))
    with pytest.raises(LimitViolation, match="position-size") as info:
        limits.validate(
            _request(quantity=-1.0, position_quantity=-90.0, pending_sell_quantity=10.0)
        )
    assert [r.check for r in info.value.rejections] == ["position-size"]
    with pytest.raises(LimitViolation, match="no known market price"):
        limits.validate(_request(asset="NEWCO", price=None))


def test_reducing_counts_working_orders_on_the_same_side_as_live(only_my_checks):
    limits = LiveLimits.from_config()
    limits.attach(_Broker())
    limits.context.set_trading_state(TradingState.REDUCING, "test")
    short = {"position_quantity": -20.0}
    limits.validate(_request(quantity=10.0, **short, pending_buy_quantity=10.0))  # 20 of 20
    limits.validate(_request(quantity=5.0, **short, pending_sell_quantity=50.0))
    with pytest.raises(LimitViolation, match="kill-switch"):  # 7 + 15 working would flip it
        limits.validate(_request(quantity=7.0, **short, pending_buy_quantity=15.0))
    long = {"position_quantity": 20.0}
    with pytest.raises(LimitViolation, match="kill-switch"):  # the same for a long position
        limits.validate(_request(quantity=-10.0, **long, pending_sell_quantity=15.0))


@pytest.mark.parametrize("quantity", [0.0, math.nan, math.inf])
def test_validate_leaves_zero_and_non_finite_quantities_to_the_backtest(only_my_checks, quantity):
    limits = LiveLimits.from_config(overrides={"risk": {"order-size": {"max_shares": 1}}})
    limits.attach(_Broker())
    limits.validate(_request(quantity=quantity))
    assert limits.checked == 0


def test_a_malformed_limit_is_a_config_error_naming_section_and_key(only_my_checks):
    with pytest.raises(ConfigError, match=r"\[risk.order-size\].*max_value"):
        LiveLimits.from_config(overrides={"risk": {"order-size": {"max_value": -1}}})


def test_no_checks_installed_is_an_error(monkeypatch):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim")
    with pytest.raises(ValueError, match="at least one risk check"):
        LiveLimits.from_config()


@settings(max_examples=150, deadline=None)
@given(
    asset=st.sampled_from(["AAPL", "MSFT", "unknown", " aapl"]),
    quantity=st.floats(-1e7, 1e7, allow_nan=False).filter(lambda q: q != 0),
    position=st.floats(-1e7, 1e7, allow_nan=False),
    pending=st.tuples(st.floats(0, 1e6), st.floats(0, 1e6)),
    price=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    multiplier=st.sampled_from([1.0, 0.01, 50.0]),
    is_update=st.booleans(),
)
def test_validate_only_ever_raises_limit_violation(
    asset, quantity, position, pending, price, multiplier, is_update
):
    limits = _every_check_limits()
    request = _request(
        asset=asset,
        quantity=quantity,
        position_quantity=position,
        pending_buy_quantity=pending[0],
        pending_sell_quantity=pending[1],
        price=price,
        multiplier=multiplier,
        is_update=is_update,
    )
    try:
        limits.validate(request)
    except LimitViolation as exc:
        assert exc.rejections and all(r.reason for r in exc.rejections)


@functools.cache
def _every_check_limits() -> LiveLimits:
    """Every installed check with every optional limit set tight, over a stub broker."""
    previous = os.environ.get(LOAD_ENV_VAR)
    os.environ[LOAD_ENV_VAR] = ALL_CHECKS
    try:
        limits = LiveLimits.from_config(
            overrides={
                "risk": {
                    "order-size": {"max_shares": 1000, "max_value": 50_000},
                    "position-size": {"max_shares": 1000, "max_value": 50_000},
                    "duplicate": {"window_seconds": 60},
                    "rate-limit": {"max_orders": 50},
                }
            }
        )
    finally:
        if previous is None:
            del os.environ[LOAD_ENV_VAR]
        else:
            os.environ[LOAD_ENV_VAR] = previous
    limits.attach(_Broker())
    return limits


def test_engine_placed_exits_are_counted_but_never_abort_the_backtest(prices, only_my_checks):
    limits = LiveLimits.from_config()

    class ScaleOutThenHalt(Strategy):
        bar = 0

        def on_start(self, broker):
            broker.set_position_rules(ScaledExit(targets=[(0.005, 0.5)]))

        def on_data(self, timestamp, data, context, broker):
            self.bar += 1
            if self.bar == 1:
                broker.submit_order("AAPL", 10)
            elif self.bar == 2:
                limits.context.set_trading_state(TradingState.HALTED, "test halt")

    result = run_backtest(prices, limits.wrap(ScaleOutThenHalt()))
    # The engine's own partial exit (not a full close) would be refused live in HALTED: it is
    # counted, marked not enforced, and the backtest runs to the end.
    assert limits.counts["kill-switch"] >= 1
    assert all(not r.enforced for r in limits.rejections)
    assert limits.summary()["not_enforced"] == len(limits.rejections)
    assert any(f.side.value == "sell" and f.quantity == 5 for f in result.fills)


def test_one_live_limits_per_backtest_run(prices, only_my_checks):
    limits = LiveLimits.from_config()

    class Idle(Strategy):
        def on_data(self, timestamp, data, context, broker):
            pass

    run_backtest(prices, limits.wrap(Idle()))
    with pytest.raises(RuntimeError, match="new LiveLimits for each run"):
        run_backtest(prices, limits.wrap(Idle()))


def test_the_trading_day_rolls_when_the_live_config_says(only_my_checks):
    limits = LiveLimits.from_config(
        overrides={"runtime": {"timezone": "America/Chicago", "trading_day_starts": "17:00"}}
    )
    limits.attach(_Broker())
    limits.on_bar(datetime(2024, 1, 2, 22, 59, tzinfo=UTC), {})  # 16:59 in Chicago
    assert limits.context.risk_state.trading_day == date(2024, 1, 2)
    limits.on_bar(datetime(2024, 1, 2, 23, 0, tzinfo=UTC), {})  # 17:00: the next session
    assert limits.context.risk_state.trading_day == date(2024, 1, 3)


@pytest.mark.parametrize(
    ("starts", "says"), [("17:00+01:00", "without an offset"), ("03:00", "in the morning")]
)
def test_a_trading_day_start_that_is_not_a_local_evening_time_is_a_config_error(
    only_my_checks, starts, says
):
    with pytest.raises(ConfigError, match=f"trading_day_starts.*{says}"):
        LiveLimits.from_config(overrides={"runtime": {"trading_day_starts": starts}})
