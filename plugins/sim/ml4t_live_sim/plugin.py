"""Entry point of ml4t-live-sim: the paper broker and the replay / synthetic feeds."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_sim.broker import SimBroker
from ml4t_live_sim.config import ReplayConfig, SimBrokerConfig, SyntheticConfig
from ml4t_live_sim.feeds import ReplayFeed, SyntheticFeed


@hookimpl
def ml4t_live_register_brokers(register):
    register("sim", SimBroker, config=SimBrokerConfig)


@hookimpl
def ml4t_live_register_feeds(register):
    register("replay", ReplayFeed, config=ReplayConfig)
    register("synthetic", SyntheticFeed, config=SyntheticConfig)
