"""Local Alpaca simulator (REST + websockets) that the real alpaca-py client talks to."""

from ml4t_live_testing.alpaca.fixtures import (
    FAKE_KEY_ID,
    FAKE_SECRET,
    alpaca_broker_settings,
    alpaca_feed_settings,
)
from ml4t_live_testing.alpaca.simulator import AlpacaSimulator

__all__ = [
    "FAKE_KEY_ID",
    "FAKE_SECRET",
    "AlpacaSimulator",
    "alpaca_broker_settings",
    "alpaca_feed_settings",
]
