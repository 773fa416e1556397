"""Entry point of ml4t-live-ib: registers broker "ib" (IBBroker on ib_async)."""

from ml4t_live_core.hookspecs import hookimpl

from ml4t_live_ib.broker import IBBroker
from ml4t_live_ib.config import IBConfig


@hookimpl
def ml4t_live_register_brokers(register):
    register("ib", IBBroker, config=IBConfig)
