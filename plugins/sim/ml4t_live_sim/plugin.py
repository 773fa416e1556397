"""Entry point of ml4t-live-sim: the paper broker and the replay / synthetic feeds.

Every command loads this module, so ml4t-backtest is imported only when a run builds one.
"""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_sim.config import ReplayConfig, SimBrokerConfig, SyntheticConfig


@hookimpl
def ml4t_live_register_brokers(register):
    register("sim", deferred("ml4t_live_sim.broker:SimBroker"), config=SimBrokerConfig)


@hookimpl
def ml4t_live_register_feeds(register):
    register("replay", deferred("ml4t_live_sim.feeds:ReplayFeed"), config=ReplayConfig)
    register("synthetic", deferred("ml4t_live_sim.feeds:SyntheticFeed"), config=SyntheticConfig)
