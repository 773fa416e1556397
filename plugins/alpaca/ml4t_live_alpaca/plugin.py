"""Entry point of ml4t-live-alpaca: the Alpaca broker and the Alpaca minute-bar feed.

Every command loads this module, so alpaca-py is imported only when a run builds the broker or
feed.
"""

from ml4t_live_alpaca.config import AlpacaBrokerConfig, AlpacaFeedConfig
from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl


@hookimpl
def ml4t_live_register_brokers(register):
    register("alpaca", deferred("ml4t_live_alpaca.broker:AlpacaBroker"), config=AlpacaBrokerConfig)


@hookimpl
def ml4t_live_register_feeds(register):
    register("alpaca", deferred("ml4t_live_alpaca.feed:AlpacaDataFeed"), config=AlpacaFeedConfig)
