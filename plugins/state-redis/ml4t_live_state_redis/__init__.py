"""ml4t-live state backend: Redis (atomic updates, journal stream, trading-state pub/sub)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ml4t_live_state_redis.config import RedisStateConfig
    from ml4t_live_state_redis.errors import RedisStateUnavailableError
    from ml4t_live_state_redis.store import RedisStateStore

#: Public name -> its module, imported on first use: the entry point
#: (ml4t_live_state_redis.plugin) loads with every command and must not import redis.
_LAZY = {
    "RedisStateConfig": "ml4t_live_state_redis.config",
    "RedisStateUnavailableError": "ml4t_live_state_redis.errors",
    "RedisStateStore": "ml4t_live_state_redis.store",
}

__all__ = ["RedisStateConfig", "RedisStateStore", "RedisStateUnavailableError"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
