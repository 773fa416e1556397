"""ml4t-live feed wrapper: ticks and source bars into N-minute bars."""

from ml4t_live_aggregator.aggregator import AggregatorStats, BarAggregator
from ml4t_live_aggregator.batch import add_batch
from ml4t_live_aggregator.config import AggregatorConfig, parse_interval
from ml4t_live_aggregator.feed import AggregatingFeed
from ml4t_live_aggregator.inputs import InvalidTickError
from ml4t_live_aggregator.ticks import add_ticks

__all__ = [
    "AggregatingFeed", "AggregatorConfig", "AggregatorStats", "BarAggregator", "InvalidTickError",
    "add_batch", "add_ticks", "parse_interval",
]
