"""Stores on the session's real redis-server (from ml4t_live_testing), emptied per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ml4t_live_state_redis import RedisStateConfig, RedisStateStore
from ml4t_live_testing.redis_server import RedisServer


@pytest.fixture
def redis_config(fresh_redis: RedisServer) -> Callable[..., RedisStateConfig]:
    def make(**overrides: Any) -> RedisStateConfig:
        return RedisStateConfig.model_validate({"url": fresh_redis.url, "timeout": 2.0, **overrides})

    return make


@pytest.fixture
async def store(redis_config: Callable[..., RedisStateConfig]) -> AsyncIterator[RedisStateStore]:
    opened = RedisStateStore(redis_config())
    await opened.open()
    yield opened
    await opened.close()
