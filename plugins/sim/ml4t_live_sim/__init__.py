"""ml4t-live-sim: a paper broker and replay/synthetic feeds, the embedded default plugin."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ml4t_live_sim.broker import SimBroker
    from ml4t_live_sim.config import ReplayConfig, SimBrokerConfig, SyntheticConfig
    from ml4t_live_sim.feeds import FeedDataError, ReplayFeed, SyntheticFeed, load_bars

#: Public name -> its module, imported on first use: the entry point
#: (ml4t_live_sim.plugin) loads with every command and must not import ml4t-backtest.
_LAZY = {
    "SimBroker": "ml4t_live_sim.broker",
    "ReplayConfig": "ml4t_live_sim.config",
    "SimBrokerConfig": "ml4t_live_sim.config",
    "SyntheticConfig": "ml4t_live_sim.config",
    "FeedDataError": "ml4t_live_sim.feeds",
    "ReplayFeed": "ml4t_live_sim.feeds",
    "SyntheticFeed": "ml4t_live_sim.feeds",
    "load_bars": "ml4t_live_sim.feeds",
}

__all__ = [
    "FeedDataError",
    "ReplayConfig",
    "ReplayFeed",
    "SimBroker",
    "SimBrokerConfig",
    "SyntheticConfig",
    "SyntheticFeed",
    "load_bars",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
