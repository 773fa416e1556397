"""Entry point of ml4t-live-example-toybroker: registers the `toybroker` broker."""

from ml4t_example_toybroker.broker import ToyBroker
from ml4t_example_toybroker.config import ToyBrokerConfig
from ml4t_live_core.hookspecs import hookimpl


@hookimpl
def ml4t_live_register_brokers(register):
    register("toybroker", ToyBroker, config=ToyBrokerConfig)
