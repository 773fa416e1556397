"""ml4t-live state backend: Redis (atomic updates, journal stream, trading-state pub/sub)."""

from ml4t_live_state_redis.config import RedisStateConfig
from ml4t_live_state_redis.errors import RedisStateUnavailableError
from ml4t_live_state_redis.store import RedisStateStore

__all__ = ["RedisStateConfig", "RedisStateStore", "RedisStateUnavailableError"]
