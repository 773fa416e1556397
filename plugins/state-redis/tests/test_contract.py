"""The shared StateStore contract, run against a real redis-server."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import redis
from ml4t_live_state_redis import RedisStateConfig, RedisStateStore
from ml4t_live_testing.redis_server import RedisServer
from ml4t_live_testing.state_contract import StateStoreContract

_accounts = itertools.count()


class TestRedisStore(StateStoreContract):
    # Other processes' changes arrive by pub/sub: in well under a bar, not at the writer's return.
    trading_state_propagation = 2.0

    @pytest.fixture
    def location(self, fresh_redis: RedisServer) -> dict[str, Any]:
        return {"url": fresh_redis.url, "account": f"contract{next(_accounts)}"}

    def make_store(self, location: dict[str, Any]) -> RedisStateStore:
        return RedisStateStore(RedisStateConfig.model_validate(location))

    def write_raw_state(self, store: RedisStateStore, raw: bytes) -> None:
        with redis.Redis.from_url(store.config.url.get_secret_value()) as client:
            client.set(store.keys.state, raw)

    def read_raw_state(self, store: RedisStateStore) -> bytes | None:
        with redis.Redis.from_url(store.config.url.get_secret_value()) as client:
            return client.get(store.keys.state)
