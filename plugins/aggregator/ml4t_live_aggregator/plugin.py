"""Entry point of ml4t-live-aggregator: the "aggregate" feed wrapper ([feed] aggregate = "5min").

Every command loads this module, so polars is imported only when a run builds the wrapper.
"""

from ml4t_live_aggregator.config import AggregatorConfig
from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl


@hookimpl
def ml4t_live_register_feed_wrappers(register):
    register(
        "aggregate", deferred("ml4t_live_aggregator.feed:AggregatingFeed"), config=AggregatorConfig
    )
