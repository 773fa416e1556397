"""AlpacaDataFeed.stop against the simulator: the stream thread ends within the stop's bound."""

from __future__ import annotations

from ml4t_live_alpaca import AlpacaDataFeed, AlpacaFeedConfig
from ml4t_live_testing.alpaca import alpaca_feed_settings

from .conftest import wait_until


async def test_stop_ends_the_stream_thread_and_leaves_no_subscription(alpaca_sim, alpaca_env):
    # alpaca-py reads with a 5 s timeout; stop() may wait stream_open_timeout (1 s) for its thread
    settings = alpaca_feed_settings(alpaca_sim, ["AAPL", "MSFT"], stream_open_timeout=1.0)
    feed = AlpacaDataFeed(AlpacaFeedConfig(**settings))
    await feed.start()
    thread = feed._thread
    assert thread is not None
    await wait_until(
        lambda: alpaca_sim.data_subscriptions() == {"AAPL": 1, "MSFT": 1}, what="subscription"
    )
    await feed.stop()
    assert not thread.is_alive(), "the data-stream thread outlived stop()"
    assert not any(alpaca_sim.data_subscriptions().values())
    assert [event async for event in feed] == []  # iteration ends after stop
