"""stale-data: no order when the asset's latest bar is too old on the runtime's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from ml4t.backtest import OrderSide
from ml4t_live_risk_stale_data.check import StaleDataCheck, StaleDataConfig
from ml4t_live_testing.risk import START, assert_registered_check, order_request, risk_context
from pydantic import ValidationError

CHECK = StaleDataCheck(StaleDataConfig(max_age_seconds=120))


def decide(context, request, check=CHECK):
    return check.ml4t_live_check_order(order=request, context=context)


def test_bar_just_inside_the_age_limit_passes_and_just_outside_is_rejected():
    context = risk_context(prices={"AAPL": 150.0})
    context.clock.advance(120)
    assert decide(context, order_request(context, "AAPL", 10)) is None
    context.clock.advance(1)
    rejection = decide(context, order_request(context, "AAPL", 10))
    assert rejection.check == "stale-data"
    assert rejection.reason == f"latest AAPL bar is 121s old (at {START.isoformat()}; max 120s)"


def test_age_is_per_asset():
    context = risk_context(
        prices={"AAPL": 150.0, "MSFT": 300.0}, bar_times={"MSFT": START - timedelta(minutes=10)}
    )
    assert decide(context, order_request(context, "AAPL", 10)) is None
    assert "MSFT bar is 600s old" in decide(context, order_request(context, "MSFT", 10)).reason


def test_asset_never_seen_is_rejected_even_when_reducing():
    context = risk_context(positions={"MSFT": 5}, prices={"AAPL": 150.0})
    request = order_request(context, "MSFT", 5, OrderSide.SELL)
    assert request.reduces_position
    assert decide(context, request).reason == "no bar has been received for MSFT; prices unknown"


def test_bar_far_in_the_future_is_rejected_as_a_clock_problem():
    context = risk_context(
        prices={"AAPL": 150.0}, bar_times={"AAPL": START + timedelta(seconds=121)}
    )
    assert "in the future" in decide(context, order_request(context, "AAPL", 1)).reason
    context.bar_times["AAPL"] = START + timedelta(seconds=60)
    assert decide(context, order_request(context, "AAPL", 1)) is None


def test_naive_bar_time_is_rejected_not_raised():
    context = risk_context(prices={"AAPL": 150.0}, bar_times={"AAPL": datetime(2024, 1, 2, 15, 0)})
    assert "no timezone" in decide(context, order_request(context, "AAPL", 1)).reason


def test_default_is_five_minutes():
    check = StaleDataCheck(StaleDataConfig())
    context = risk_context(prices={"AAPL": 150.0})
    context.clock.advance(300)
    assert decide(context, order_request(context, "AAPL", 1), check) is None
    context.clock.advance(1)
    assert decide(context, order_request(context, "AAPL", 1), check) is not None


async def test_replays_are_never_stale(load_only):
    """Replays of old (2024) bars run on bar time (MarketClock), so every order passes."""
    load_only("sim", "stale-data")
    from ml4t.backtest import Strategy
    from ml4t_live_sim import ReplayFeed, SyntheticConfig
    from ml4t_live_sim.feeds import synthetic_bars

    from ml4t_live_core.compose import build
    from ml4t_live_core.memory_store import MemoryStateStore

    class BuyEveryBar(Strategy):
        def on_data(self, timestamp, data, context, broker):
            broker.submit_order("A000", 1)

    feed = ReplayFeed(data=synthetic_bars(SyntheticConfig(assets=1, bars=60, seed=3)))
    runtime = build(BuyEveryBar(), None, feed=feed, store=MemoryStateStore())
    stats = await runtime.engine.run(install_signal_handlers=False)
    assert stats.orders_submitted == 60 and not runtime.safe.rejected


@pytest.mark.parametrize(
    "bad",
    [
        {"max_age_seconds": 0},
        {"max_age_seconds": -5},
        {"max_age_seconds": float("nan")},
        {"max_age": 5},
    ],
)
def test_bad_config_is_refused(bad):
    with pytest.raises(ValidationError):
        StaleDataConfig.model_validate(bad)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("stale-data")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("stale-data", StaleDataCheck, StaleDataConfig)
