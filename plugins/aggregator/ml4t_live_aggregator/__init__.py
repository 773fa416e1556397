"""ml4t-live feed wrapper: ticks and source bars into N-minute bars."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ml4t_live_aggregator.aggregator import AggregatorStats, BarAggregator
    from ml4t_live_aggregator.batch import add_batch
    from ml4t_live_aggregator.config import AggregatorConfig, parse_interval
    from ml4t_live_aggregator.feed import AggregatingFeed
    from ml4t_live_aggregator.inputs import InvalidTickError
    from ml4t_live_aggregator.ticks import add_ticks

#: Public name -> its module, imported on first use: the entry point
#: (ml4t_live_aggregator.plugin) loads with every command and must not import polars.
_LAZY = {
    "AggregatorStats": "ml4t_live_aggregator.aggregator",
    "BarAggregator": "ml4t_live_aggregator.aggregator",
    "add_batch": "ml4t_live_aggregator.batch",
    "AggregatorConfig": "ml4t_live_aggregator.config",
    "parse_interval": "ml4t_live_aggregator.config",
    "AggregatingFeed": "ml4t_live_aggregator.feed",
    "InvalidTickError": "ml4t_live_aggregator.inputs",
    "add_ticks": "ml4t_live_aggregator.ticks",
}

__all__ = [
    "AggregatingFeed",
    "AggregatorConfig",
    "AggregatorStats",
    "BarAggregator",
    "InvalidTickError",
    "add_batch",
    "add_ticks",
    "parse_interval",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
