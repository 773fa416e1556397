"""Entry point of ml4t-live-ib: broker "ib" (IBBroker) and feed "ib" (IBDataFeed), on ib_async.

Every command loads this module, so ib_async is imported only when a run builds the broker or feed.
"""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_ib.config import IBConfig, IBFeedConfig


@hookimpl
def ml4t_live_register_brokers(register):
    register("ib", deferred("ml4t_live_ib.broker:IBBroker"), config=IBConfig)


@hookimpl
def ml4t_live_register_feeds(register):
    register("ib", deferred("ml4t_live_ib.feed:IBDataFeed"), config=IBFeedConfig)
