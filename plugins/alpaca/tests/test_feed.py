"""AlpacaDataFeed on the real alpaca-py StockDataStream / StockHistoricalDataClient against the
simulator: minute grouping, a dropped data stream, and warm-up history for `on_prepare`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from ml4t.backtest import Strategy
from ml4t_live_alpaca import AlpacaBroker, AlpacaBrokerConfig, AlpacaDataFeed, AlpacaFeedConfig
from ml4t_live_testing.alpaca import AlpacaSimulator, alpaca_broker_settings, alpaca_feed_settings

from ml4t_live_core.compose import build
from ml4t_live_core.errors import FeedError
from ml4t_live_core.protocols import BarEvent

from .conftest import wait_until

ASSETS = ["AAPL", "MSFT"]


def bars(start: datetime, minutes: int, assets: list[str] = ASSETS) -> pl.DataFrame:
    """Distinct prices per asset and minute, so a mixed-up bar shows."""
    rows = []
    for i in range(minutes):
        for j, asset in enumerate(assets):
            close = 100.0 * (j + 1) + i
            rows.append(
                {
                    "timestamp": start + timedelta(minutes=i),
                    "asset": asset,
                    "open": close - 0.5,
                    "high": close + 0.5,
                    "low": close - 1.0,
                    "close": close,
                    "volume": 1000.0 + i,
                }
            )
    return pl.DataFrame(rows)


def minute(offset: int) -> datetime:
    """A whole minute `offset` minutes from now (negative: the past)."""
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=offset)


@pytest.fixture
async def feed(
    alpaca_sim: AlpacaSimulator, alpaca_env: dict[str, str]
) -> AsyncIterator[AlpacaDataFeed]:
    feed = AlpacaDataFeed(
        AlpacaFeedConfig(**alpaca_feed_settings(alpaca_sim, ASSETS, bar_wait_seconds=0.3))
    )
    await feed.start()
    try:
        await wait_until(
            lambda: all(alpaca_sim.data_subscriptions().get(a) for a in ASSETS),
            what="bar subscription",
        )
        yield feed
    finally:
        await feed.stop()


async def next_event(feed: AlpacaDataFeed, timeout: float = 3.0) -> BarEvent:
    return await asyncio.wait_for(anext(aiter(feed)), timeout)


async def test_one_event_per_minute_carries_every_assets_bar(alpaca_sim, feed):
    start = minute(-3)
    alpaca_sim.stream_bars(bars(start, 2))
    first, second = await next_event(feed), await next_event(feed)
    assert [first[0], second[0]] == [start, start + timedelta(minutes=1)]
    assert set(first[1]) == set(ASSETS)
    assert first[1]["MSFT"] == {
        "open": 199.5,
        "high": 200.5,
        "low": 199.0,
        "close": 200.0,
        "volume": 1000.0,
    }
    assert second[1]["AAPL"]["close"] == 101.0
    assert first[2]["source"] == "alpaca"


async def test_a_minute_missing_an_asset_is_emitted_after_the_wait(alpaca_sim, feed):
    start = minute(-2)
    alpaca_sim.stream_bars(bars(start, 1, ["AAPL"]))  # MSFT did not trade this minute
    timestamp, data, _ = await next_event(feed)
    assert (timestamp, set(data)) == (start, {"AAPL"})


async def test_dropped_data_stream_reconnects_and_resubscribes(alpaca_sim, feed):
    start = minute(-3)
    alpaca_sim.stream_bars(bars(start, 1))
    assert (await next_event(feed))[0] == start
    alpaca_sim.drop_data_stream()
    await wait_until(lambda: not alpaca_sim.data_subscriptions(), what="the drop")
    await wait_until(
        lambda: all(alpaca_sim.data_subscriptions().get(a) for a in ASSETS), what="resubscription"
    )
    later = start + timedelta(minutes=1)
    alpaca_sim.stream_bars(bars(later, 1))
    timestamp, data, _ = await next_event(feed)
    assert (timestamp, set(data)) == (later, set(ASSETS))


async def test_history_is_the_last_n_minutes_of_every_asset_oldest_first(alpaca_sim, alpaca_env):
    start = minute(-30)
    alpaca_sim.add_history(bars(start, 20))
    feed = AlpacaDataFeed(AlpacaFeedConfig(**alpaca_feed_settings(alpaca_sim, ASSETS)))
    history = await feed.history(5)
    assert [t for t, _, _ in history] == [start + timedelta(minutes=m) for m in range(15, 20)]
    assert all(set(data) == set(ASSETS) for _, data, _ in history)
    assert history[-1][1]["MSFT"]["close"] == 200.0 + 19
    assert alpaca_sim.requests("GET", "/v2/stocks/bars")  # served by the historical endpoint
    assert await feed.history(0) == []


async def test_history_alpaca_refuses_is_a_feed_error_saying_why(alpaca_sim, alpaca_env):
    alpaca_sim.fail_next("/v2/stocks/bars", status=403)
    feed = AlpacaDataFeed(AlpacaFeedConfig(**alpaca_feed_settings(alpaca_sim, ASSETS)))
    with pytest.raises(FeedError, match="alpaca feed: no warm-up history: .*403"):
        await feed.history(5)


def test_feed_choice_picks_the_iex_or_sip_stream(alpaca_env):
    iex = AlpacaDataFeed(AlpacaFeedConfig(assets=["AAPL"]))
    sip = AlpacaDataFeed(AlpacaFeedConfig(assets=["AAPL"], feed="sip"))
    assert iex._stream._endpoint.endswith("/v2/iex")
    assert sip._stream._endpoint.endswith("/v2/sip")


class Warmed(Strategy):
    """Records what `on_prepare` got and the first live bar's time."""

    def __init__(self) -> None:
        self.history: list[BarEvent] | None = None
        self.first_live: datetime | None = None

    def on_prepare(self, broker: Any, config: Any = None) -> None:
        self.history = list(config.history)

    def on_data(self, timestamp: datetime, data: dict, context: dict, broker: Any) -> None:
        self.first_live = self.first_live or timestamp


async def test_on_prepare_gets_the_last_n_bars_before_the_first_live_bar(
    alpaca_sim, alpaca_env, load_only, tmp_path: Path
):
    load_only("sim", "alpaca", "state-json")  # skips when this plugin is tested alone
    start = minute(-20)
    alpaca_sim.add_history(bars(start, 10))
    strategy = Warmed()
    runtime = build(
        strategy,
        None,
        overrides={
            "runtime": {"strategy_id": "alpaca-warmup", "warmup_bars": 4},
            "state": {"use": "json", "json": {"directory": str(tmp_path / "state")}},
        },
        broker=AlpacaBroker(AlpacaBrokerConfig(**alpaca_broker_settings(alpaca_sim))),
        feed=AlpacaDataFeed(AlpacaFeedConfig(**alpaca_feed_settings(alpaca_sim, ASSETS))),
    )
    task = asyncio.create_task(runtime.engine.run(install_signal_handlers=False))
    try:

        def subscribed() -> bool:
            return all(alpaca_sim.data_subscriptions().get(a) for a in ASSETS)

        await wait_until(
            lambda: (subscribed() and strategy.history is not None) or task.done(),
            what="on_prepare",
        )
        assert strategy.first_live is None  # the warm-up came before any live bar
        assert [t for t, _, _ in strategy.history] == [
            start + timedelta(minutes=m) for m in range(6, 10)
        ]
        assert strategy.history[-1][1]["AAPL"]["close"] == 109.0
        live = minute(-1)
        alpaca_sim.stream_bars(bars(live, 1))
        await wait_until(lambda: strategy.first_live is not None, what="the first live bar")
        assert strategy.first_live == live
    finally:
        runtime.engine.request_stop("test finished")
        await asyncio.wait_for(task, 10)


async def test_trades_source_sends_each_trade_as_a_tick(alpaca_sim, alpaca_env):
    settings = alpaca_feed_settings(alpaca_sim, ASSETS, source="trades")
    feed = AlpacaDataFeed(AlpacaFeedConfig(**settings))
    await feed.start()
    try:
        await wait_until(
            lambda: all(alpaca_sim.trade_subscriptions().get(a) for a in ASSETS),
            what="trade subscription",
        )
        assert not alpaca_sim.data_subscriptions().get("AAPL")  # trades instead of bars
        t0 = minute(-1)
        alpaca_sim.stream_trades(
            [(t0, "AAPL", 101.25, 30.0), (t0 + timedelta(seconds=2), "MSFT", 402.5, 5.0)]
        )
        first, second = await next_event(feed), await next_event(feed)
        assert first == (
            t0,
            {"AAPL": [{"price": 101.25, "size": 30.0, "timestamp": t0}]},
            {"source": "alpaca_trades", "feed": "iex"},
        )
        assert second[1]["MSFT"][0]["price"] == 402.5
    finally:
        await feed.stop()


async def test_trades_through_the_aggregator_become_minute_bars(
    alpaca_sim, alpaca_env, load_only
):
    load_only("alpaca", "aggregator", "sim")  # composed through the registry; skips without
    from ml4t_live_core.clock import ManualClock
    from ml4t_live_core.memory_store import MemoryStateStore

    class Idle(Strategy):
        def on_data(self, timestamp: datetime, data: dict, context: dict, broker: Any) -> None:
            return None

    settings = alpaca_feed_settings(alpaca_sim, ["AAPL"], source="trades")
    overrides = {
        "runtime": {"strategy_id": "alpaca-trades"},
        "broker": {"use": "sim"},
        "feed": {"use": "alpaca", "aggregate": "1min", "alpaca": settings},
    }
    start = minute(-5)
    # the aggregator's clock stands at the minute's end, so only the next trade closes it
    clock = ManualClock(start + timedelta(minutes=1))
    runtime = build(Idle(), None, overrides=overrides, store=MemoryStateStore(), clock=clock)
    feed = runtime.feed
    await feed.start()
    try:
        await wait_until(lambda: alpaca_sim.trade_subscriptions().get("AAPL"), what="subscription")
        prices = [(0, 100.0, 10.0), (15, 103.0, 5.0), (30, 98.5, 20.0), (59, 101.0, 1.0)]
        trades = [(start + timedelta(seconds=s), "AAPL", p, q) for s, p, q in prices]
        trades.append((start + timedelta(minutes=1), "AAPL", 150.0, 1.0))  # closes the minute
        alpaca_sim.stream_trades(trades)
        timestamp, data, _ = await asyncio.wait_for(anext(aiter(feed)), 3)
        assert timestamp == start
        bar = data["AAPL"]
        assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) == (
            100.0,
            103.0,
            98.5,
            101.0,
            36.0,
        )
    finally:
        await feed.stop()
