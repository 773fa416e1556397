"""Entry point of ml4t-live-ib: broker "ib" (IBBroker) and feed "ib" (IBDataFeed), on ib_async."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_ib.broker import IBBroker
from ml4t_live_ib.config import IBConfig, IBFeedConfig
from ml4t_live_ib.feed import IBDataFeed


@hookimpl
def ml4t_live_register_brokers(register):
    register("ib", IBBroker, config=IBConfig)


@hookimpl
def ml4t_live_register_feeds(register):
    register("ib", IBDataFeed, config=IBFeedConfig)
