"""Entry point of ml4t-live-alpaca: the Alpaca broker and the Alpaca minute-bar feed."""

from ml4t_live_alpaca.broker import AlpacaBroker
from ml4t_live_alpaca.config import AlpacaBrokerConfig, AlpacaFeedConfig
from ml4t_live_alpaca.feed import AlpacaDataFeed
from ml4t_live_core.hookspecs import hookimpl


@hookimpl
def ml4t_live_register_brokers(register):
    register("alpaca", AlpacaBroker, config=AlpacaBrokerConfig)


@hookimpl
def ml4t_live_register_feeds(register):
    register("alpaca", AlpacaDataFeed, config=AlpacaFeedConfig)
