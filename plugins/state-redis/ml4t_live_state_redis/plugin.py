"""Entry point of ml4t-live-state-redis: registers the "redis" state backend.

Every command loads this module, so the redis client is imported only when the store is built.
"""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_state_redis.config import RedisStateConfig


@hookimpl
def ml4t_live_register_state_stores(register):
    register(
        "redis", deferred("ml4t_live_state_redis.store:RedisStateStore"), config=RedisStateConfig
    )
