"""The sim broker fills like ml4t-backtest: four strategies, minute and daily bars, both fill
timings, with commission and slippage; orders, fills and final positions must agree exactly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC

import pytest
from ml4t.backtest.example_data import ExampleRoundTrip, load_example_prices

from ml4t_live_core.parity import run_parity

COSTS = {"commission_per_share": 0.005, "slippage_bps": 2.0}
TIMINGS = ["next_open", "close"]
BARS = ["minute_bars", "daily_bars"]


def filled_types(report) -> Counter:  # type: ignore[no-untyped-def]
    return Counter(o.order_type for o in report.backtest.orders if o.status == "filled")


def assert_parity(report) -> None:  # type: ignore[no-untyped-def]
    table = "\n".join(
        f"{d.kind} {d.key}: backtest {d.backtest} | live {d.live}" for d in report.differences
    )
    assert report.ok, f"backtest and live disagree:\n{table}"
    assert report.backtest.fills == report.live.fills


def test_bundled_example_round_trip_on_the_bundled_data(sim_only):
    prices = load_example_prices("equity")
    for timing in TIMINGS:
        report = run_parity(
            lambda: ExampleRoundTrip("AAPL", 100),
            prices,
            broker_settings={"fill_timing": timing, **COSTS},
            plugins=sim_only,
        )
        assert_parity(report)
        assert [f.side for f in report.live.fills] == ["buy", "sell"]
        assert report.live.fills[0].commission == pytest.approx(0.5)
        # the costs really reach both sides (parity would also hold if both ignored them)
        bars = {
            r["timestamp"].replace(tzinfo=UTC): r
            for r in prices.iter_rows(named=True)
            if r["asset"] == "AAPL"
        }
        reference = "open" if timing == "next_open" else "close"
        buy, sell = report.live.fills
        slip = COSTS["slippage_bps"] / 10_000
        assert buy.price == pytest.approx(bars[buy.timestamp][reference] * (1 + slip), rel=1e-12)
        assert sell.price == pytest.approx(bars[sell.timestamp][reference] * (1 - slip), rel=1e-12)


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("bars", BARS)
def test_round_trip(examples, sim_only, request, bars, timing):
    report = run_parity(
        examples.RoundTrip,
        request.getfixturevalue(bars),
        broker_settings={"fill_timing": timing, **COSTS},
        plugins=sim_only,
    )
    assert_parity(report)
    assert len(report.live.fills) == 2


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("bars", BARS)
def test_target_weight_executor_rebalancer(examples, sim_only, request, bars, timing):
    report = run_parity(
        examples.WeightRebalancer,
        request.getfixturevalue(bars),
        broker_settings={"fill_timing": timing, **COSTS},
        plugins=sim_only,
    )
    assert_parity(report)
    sides = Counter(f.side for f in report.live.fills)
    assert sides["buy"] >= 5 and sides["sell"] >= 5


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("bars", BARS)
def test_moving_average_crossover_with_limits_and_stops(examples, sim_only, request, bars, timing):
    report = run_parity(
        examples.LimitCrossover,
        request.getfixturevalue(bars),
        broker_settings={"fill_timing": timing, "commission_per_share": 0.005},
        plugins=sim_only,
    )
    assert_parity(report)
    filled = filled_types(report)
    assert filled["limit"] >= 3 and filled["stop"] >= 1, filled


@pytest.mark.parametrize("timing", TIMINGS)
def test_limits_under_slippage_and_cancellations_agree_too(examples, sim_only, minute_bars, timing):
    report = run_parity(
        examples.LimitCrossover,
        minute_bars,
        broker_settings={"fill_timing": timing, **COSTS},
        plugins=sim_only,
    )
    assert_parity(report)
    assert sum(o.status == "cancelled" for o in report.live.orders) >= 5


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("bars", BARS)
def test_order_target_percent(examples, sim_only, request, bars, timing):
    report = run_parity(
        examples.TargetPercent,
        request.getfixturevalue(bars),
        broker_settings={"fill_timing": timing, "commission_pct": 0.001, "slippage_bps": 3.0},
        plugins=sim_only,
    )
    assert_parity(report)
    assert len(report.live.fills) >= 10
    # whole shares, as ml4t-backtest rounds them by default
    assert all(f.quantity == int(f.quantity) for f in report.live.fills)


def test_next_open_and_close_timings_really_differ(examples, sim_only, minute_bars):
    """Guards against a sim that ignores fill_timing (parity would then hold trivially)."""
    at_open = run_parity(
        examples.RoundTrip,
        minute_bars,
        broker_settings={"fill_timing": "next_open"},
        plugins=sim_only,
    )
    at_close = run_parity(
        examples.RoundTrip, minute_bars, broker_settings={"fill_timing": "close"}, plugins=sim_only
    )
    first_bar = minute_bars.filter(minute_bars["asset"] == "A000").row(0, named=True)
    second_bar = minute_bars.filter(minute_bars["asset"] == "A000").row(1, named=True)
    assert at_close.live.fills[0].price == pytest.approx(first_bar["close"])
    assert at_open.live.fills[0].price == pytest.approx(second_bar["open"])


def test_contract_multipliers_agree(examples, sim_only, daily_bars):
    """A futures-style multiplier reaches both sides (cash moves by quantity x price x 50)."""
    settings = {
        "multipliers": {"A000": 50.0},
        "initial_cash": 10_000_000.0,
        "commission_per_share": 1.0,
    }
    report = run_parity(examples.RoundTrip, daily_bars, broker_settings=settings, plugins=sim_only)
    assert_parity(report)
    buy, sell = report.live.fills
    expected = (
        10_000_000.0 + 100 * 50.0 * (sell.price - buy.price) - buy.commission - sell.commission
    )
    assert report.live.cash == pytest.approx(expected)
