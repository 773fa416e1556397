"""Entry point of ml4t-live-aggregator: the "aggregate" feed wrapper ([feed] aggregate = "5min")."""

from ml4t_live_aggregator.config import AggregatorConfig
from ml4t_live_aggregator.feed import AggregatingFeed
from ml4t_live_core.hookspecs import hookimpl


@hookimpl
def ml4t_live_register_feed_wrappers(register):
    register("aggregate", AggregatingFeed, config=AggregatorConfig)
