"""Entry point of ml4t-live-state-redis: registers the "redis" state backend."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_state_redis.config import RedisStateConfig
from ml4t_live_state_redis.store import RedisStateStore


@hookimpl
def ml4t_live_register_state_stores(register):
    register("redis", RedisStateStore, config=RedisStateConfig)
