"""IBDataFeed against the gateway simulator: real-time bars, warm-up history, start-up errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from ml4t_live_ib.config import IBFeedConfig
from ml4t_live_ib.contracts import UnknownContractError
from ml4t_live_ib.feed import IBDataFeed, MarketDataError

EPOCH = int(datetime(2024, 1, 2, 14, 30, tzinfo=UTC).timestamp())


def feed_config(port: int, assets: list[str], **overrides) -> IBFeedConfig:
    values = dict(
        port=port,
        client_id=11,
        assets=assets,
        connect_timeout=2.0,
        request_timeout=2.0,
        reconnect_initial_delay=0.01,
        reconnect_max_delay=0.05,
    )
    values.update(overrides)
    return IBFeedConfig(**values)


async def test_realtime_bars_arrive_per_asset(ib_gateway):
    feed = IBDataFeed(feed_config(ib_gateway.port, ["AAPL", "MSFT"]))
    await feed.start()
    try:
        ib_gateway.push_bar("AAPL", EPOCH, 100.0, 101.0, 99.5, 100.5, 1200)
        ib_gateway.push_bar("MSFT", EPOCH, 400.0, 400.5, 399.0, 399.5, 300)
        ib_gateway.push_bar("AAPL", EPOCH + 5, 100.5, 100.7, 100.1, 100.2, 800)
        events = []
        async for event in feed:
            events.append(event)
            if len(events) == 3:
                break
        start = datetime.fromtimestamp(EPOCH, UTC)
        assert [(e[0], next(iter(e[1]))) for e in events] == [
            (start, "AAPL"),
            (start, "MSFT"),
            (datetime.fromtimestamp(EPOCH + 5, UTC), "AAPL"),
        ]
        first = events[0][1]["AAPL"]
        assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
            100.0,
            101.0,
            99.5,
            100.5,
            1200.0,
        )
        assert events[0][2]["bar_seconds"] == 5
        # a subscription lasts weeks: ib_async's bar list keeps only the newest bar
        assert [len(bars) for bars in feed._subscriptions.values()] == [1, 1]
    finally:
        await feed.stop()


async def test_missing_market_data_permission_fails_start(ib_gateway):
    ib_gateway.deny_market_data("MSFT")
    feed = IBDataFeed(feed_config(ib_gateway.port, ["AAPL", "MSFT"]))
    with pytest.raises(
        MarketDataError, match=r"MSFT: IB 354 Requested market data is not subscribed"
    ) as info:
        await feed.start()
    assert "AAPL" not in str(info.value)
    await feed.stop()


async def test_unknown_asset_fails_start(ib_gateway):
    feed = IBDataFeed(feed_config(ib_gateway.port, ["NOPE"]))
    with pytest.raises(UnknownContractError, match="'NOPE'"):
        await feed.start()
    await feed.stop()


async def test_history_for_warmup(ib_gateway):
    ib_gateway.set_history(
        "AAPL",
        [
            (str(EPOCH + 60 * i), 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 1000.0)
            for i in range(5)
        ],
    )
    ib_gateway.set_history(
        "MSFT", [(str(EPOCH + 60 * i), 400.0, 401.0, 399.0, 400.5, 10.0) for i in range(5)]
    )
    feed = IBDataFeed(feed_config(ib_gateway.port, ["AAPL", "MSFT"]))
    await feed.start()
    try:
        events = await feed.history(3)
        assert [e[0] for e in events] == [
            datetime.fromtimestamp(EPOCH + 60 * i, UTC) for i in (2, 3, 4)
        ]
        assert set(events[-1][1]) == {"AAPL", "MSFT"}
        assert events[-1][1]["AAPL"]["close"] == 104.5
    finally:
        await feed.stop()


async def test_history_without_data_is_an_error(ib_gateway):
    feed = IBDataFeed(feed_config(ib_gateway.port, ["AAPL"]))
    await feed.start()
    try:
        with pytest.raises(MarketDataError, match="no historical bars for 'AAPL'"):
            await feed.history(10)
    finally:
        await feed.stop()


async def test_feed_resubscribes_after_gateway_restart(ib_gateway):
    feed = IBDataFeed(feed_config(ib_gateway.port, ["AAPL"]))
    await feed.start()
    try:
        await ib_gateway.restart()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while not any(s.bar_subscriptions for s in ib_gateway.sessions):
            assert loop.time() < deadline, "feed did not resubscribe"
            await asyncio.sleep(0.005)
        ib_gateway.push_bar("AAPL", EPOCH, 1.0, 1.0, 1.0, 1.0, 1)
        event = await asyncio.wait_for(anext(aiter(feed)), 2)
        assert event[1]["AAPL"]["close"] == 1.0
    finally:
        await feed.stop()


async def test_composed_ib_feed_through_the_aggregator_gives_minute_bars(ib_gateway, monkeypatch):
    pytest.importorskip(
        "ml4t_live_aggregator"
    )  # composed through the registry, absent in isolation
    pytest.importorskip("ml4t_live_sim")
    from ml4t.backtest import Strategy

    from ml4t_live_core.compose import build
    from ml4t_live_core.memory_store import MemoryStateStore
    from ml4t_live_core.plugins import LOAD_ENV_VAR

    class Idle(Strategy):
        def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
            return None

    monkeypatch.setenv(LOAD_ENV_VAR, "ib,aggregator,sim")
    overrides = {
        "runtime": {"strategy_id": "ib-feed"},
        "broker": {"use": "sim"},
        "feed": {
            "use": "ib",
            "aggregate": "1min",
            "ib": {
                "port": ib_gateway.port,
                "client_id": 12,
                "assets": ["AAPL"],
                "connect_timeout": 2.0,
            },
        },
    }
    from ml4t_live_core.clock import ManualClock

    # the aggregator's clock stands at the minute's end: no bar is "ahead of the clock", and its
    # wall-clock flush of stuck bars (flush_after) does not close the minute; the bar at +60 s does
    start = EPOCH
    clock = ManualClock(datetime.fromtimestamp(start + 60, UTC))
    runtime = build(Idle(), None, overrides=overrides, store=MemoryStateStore(), clock=clock)
    feed = runtime.feed
    await feed.start()
    try:
        closes = [100.0 + i for i in range(12)]
        for i, close in enumerate(closes):  # twelve 5-second bars: :00 .. :55
            ib_gateway.push_bar(
                "AAPL", start + 5 * i, close - 0.5, close + 1.0, close - 1.0, close, 10
            )
        ib_gateway.push_bar("AAPL", start + 60, 200.0, 200.0, 200.0, 200.0, 1)  # closes the minute
        timestamp, data, _ = await asyncio.wait_for(anext(aiter(feed)), 3)
        assert timestamp == datetime.fromtimestamp(start, UTC)
        bar = data["AAPL"]
        assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) == (
            99.5,
            112.0,
            99.0,
            111.0,
            120.0,
        )
    finally:
        await feed.stop()


async def test_tick_by_tick_trades_per_asset(ib_gateway):
    feed = IBDataFeed(feed_config(ib_gateway.port, ["AAPL"], source="ticks"))
    await feed.start()
    try:
        ib_gateway.push_tick("AAPL", EPOCH, 100.25, 300)
        timestamp, data, context = await asyncio.wait_for(anext(aiter(feed)), 2)
        [tick] = data["AAPL"]
        assert (tick["price"], tick["size"]) == (100.25, 300.0)
        assert tick["timestamp"].tzinfo is not None and timestamp == tick["timestamp"]
        assert context["source"] == "ib_ticks"
    finally:
        await feed.stop()


async def test_tick_permission_error_fails_start(ib_gateway):
    ib_gateway.deny_market_data(
        "AAPL", 10089, "Requested market data requires additional subscription for API."
    )
    feed = IBDataFeed(feed_config(ib_gateway.port, ["AAPL"], source="ticks"))
    with pytest.raises(MarketDataError, match="AAPL: IB 10089"):
        await feed.start()
    await feed.stop()


async def test_feed_that_cannot_reconnect_fails_loudly(ib_gateway):
    from ml4t_live_core.errors import BrokerUnavailableError

    feed = IBDataFeed(feed_config(ib_gateway.port, ["AAPL"], reconnect_attempts=0))
    await feed.start()
    try:
        await ib_gateway.stop()  # the gateway is gone for good
        with pytest.raises(BrokerUnavailableError, match="IB feed lost its connection"):
            await asyncio.wait_for(anext(aiter(feed)), 3)
    finally:
        await feed.stop()
