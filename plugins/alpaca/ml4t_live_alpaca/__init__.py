"""ml4t-live broker and feed: Alpaca through alpaca-py."""

from ml4t_live_alpaca.broker import AlpacaBroker
from ml4t_live_alpaca.config import AlpacaBrokerConfig, AlpacaFeedConfig
from ml4t_live_alpaca.feed import AlpacaDataFeed

__all__ = ["AlpacaBroker", "AlpacaBrokerConfig", "AlpacaDataFeed", "AlpacaFeedConfig"]
