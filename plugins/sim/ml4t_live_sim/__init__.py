"""ml4t-live-sim: a paper broker and replay/synthetic feeds, the embedded default plugin."""

from ml4t_live_sim.broker import SimBroker
from ml4t_live_sim.config import ReplayConfig, SimBrokerConfig, SyntheticConfig
from ml4t_live_sim.feeds import FeedDataError, ReplayFeed, SyntheticFeed, load_bars

__all__ = [
    "FeedDataError", "ReplayConfig", "ReplayFeed", "SimBroker", "SimBrokerConfig",
    "SyntheticConfig", "SyntheticFeed", "load_bars",
]
