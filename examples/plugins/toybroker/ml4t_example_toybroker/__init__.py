"""Example broker plugin for ToyBroker, a made-up REST API, and a local stub of that API."""

from ml4t_example_toybroker.broker import ToyBroker
from ml4t_example_toybroker.config import ToyBrokerConfig

__all__ = ["ToyBroker", "ToyBrokerConfig"]
