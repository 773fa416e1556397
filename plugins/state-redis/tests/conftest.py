"""Stores on the session's real redis-server (from ml4t_live_testing), emptied per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ml4t_live_state_redis import RedisStateConfig, RedisStateStore
from ml4t_live_testing.redis_server import RedisServer, find_executable, running_redis_server


@pytest.fixture
def with_sim_broker(load_only: Callable[..., None]) -> None:
    """Only the sim broker and this plugin load: loading a config needs a broker (skips where
    ml4t-live-sim is not installed, as in `nox -s isolation`)."""
    load_only("sim", "state-redis")


@pytest.fixture
def redis_config(fresh_redis: RedisServer) -> Callable[..., RedisStateConfig]:
    def make(**overrides: Any) -> RedisStateConfig:
        return RedisStateConfig.model_validate(
            {"url": fresh_redis.url, "timeout": 2.0, **overrides}
        )

    return make


@pytest.fixture
async def store(redis_config: Callable[..., RedisStateConfig]) -> AsyncIterator[RedisStateStore]:
    opened = RedisStateStore(redis_config())
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server this test may kill or freeze (the session one is shared)."""
    if find_executable() is None:
        pytest.skip("redis-server is not installed")
    with running_redis_server(tmp_path / "redis") as server:
        yield server
