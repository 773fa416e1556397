"""The test kit alone with the core: its suites and fixtures work against the core's own parts."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points

import pytest
from ml4t.backtest import OrderSide
from ml4t_live_testing.conformance import BrokerConformance
from ml4t_live_testing.redis_server import RedisServer
from ml4t_live_testing.risk import add_pending, order_request, risk_context

from ml4t_live_core.plugins import LOAD_ENV_VAR, load_plugins
from ml4t_live_core.risk import TradingState
from ml4t_live_core.venue import SimulatedVenue

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class TestCoreSimulatedVenue(BrokerConformance):
    """The broker conformance suite passes the core's in-process venue (the shadow portfolio)."""

    async def make_broker(self) -> SimulatedVenue:
        self.bars = 0
        return SimulatedVenue(name="kit-self-test")

    async def trade_through(self, broker: SimulatedVenue, asset: str, price: float) -> None:  # type: ignore[override]
        for _ in range(2):
            self.bars += 1
            bar = {"open": price, "high": price, "low": price, "close": price, "volume": 1e6}
            await broker.on_bar(T0 + timedelta(minutes=self.bars), {asset: bar})


def test_risk_context_holds_the_given_portfolio_and_prices() -> None:
    context = risk_context(
        positions={"A": 10, "B": -4}, prices={"A": 50.0, "B": 25.0}, cash=1_000.0
    )
    assert context.position_quantity("A") == 10 and context.position_quantity("B") == -4
    assert context.gross_exposure() == pytest.approx(10 * 50.0 + 4 * 25.0)
    assert context.net_exposure() == pytest.approx(10 * 50.0 - 4 * 25.0)
    assert context.last_bar_time("A") == context.now
    assert context.trading_state is TradingState.ACTIVE


def test_order_request_says_whether_an_order_reduces_a_position() -> None:
    context = risk_context(positions={"A": 10}, prices={"A": 50.0})
    assert order_request(context, "A", 4, OrderSide.SELL).reduces_position
    assert not order_request(context, "A", 15, OrderSide.SELL).reduces_position  # flips it
    assert not order_request(context, "A", 1, OrderSide.BUY).reduces_position


def test_add_pending_counts_a_working_order() -> None:
    context = risk_context(prices={"A": 50.0})
    add_pending(context, "A", 7, OrderSide.BUY)
    assert context.pending_quantity("A", OrderSide.BUY) == 7
    assert context.pending_quantity("A", OrderSide.SELL) == 0


def test_fresh_redis_is_a_real_server_emptied_for_each_test(fresh_redis: RedisServer) -> None:
    assert fresh_redis.command("DBSIZE") == b":0"
    assert fresh_redis.command("SET", "kit", "1").startswith(b"+OK")
    fresh_redis.flush()
    assert fresh_redis.command("DBSIZE") == b":0"


def test_load_only_skips_when_a_named_plugin_is_not_installed(load_only) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(pytest.skip.Exception, match="no-such-plugin"):
        load_only("no-such-plugin")
    assert LOAD_ENV_VAR not in os.environ


def test_load_only_restricts_loading_to_the_named_plugins(load_only) -> None:  # type: ignore[no-untyped-def]
    installed = sorted(ep.name for ep in entry_points(group="ml4t_live"))
    load_only(*installed[:1])
    assert {info.name for info in load_plugins().infos} == set(installed[:1])
