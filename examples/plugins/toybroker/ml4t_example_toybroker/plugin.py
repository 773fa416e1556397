"""Entry point of ml4t-live-example-toybroker: registers the `toybroker` broker.

Every `ml4t-live` command loads this module (`ml4t-live halt` too), so it imports only the
config schema; `deferred` imports the broker, and its HTTP client, when a run builds it.
"""

from ml4t_example_toybroker.config import ToyBrokerConfig
from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl


@hookimpl
def ml4t_live_register_brokers(register):
    register(
        "toybroker", deferred("ml4t_example_toybroker.broker:ToyBroker"), config=ToyBrokerConfig
    )
