"""The test kit's redis-server: real, on loopback, nothing persisted, clear when missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from ml4t_live_testing.redis_server import (
    EXECUTABLE_ENV_VAR,
    RedisServer,
    RedisServerUnavailable,
    find_executable,
    running_redis_server,
)


def test_session_server_answers_and_keeps_nothing_on_disk(fresh_redis: RedisServer) -> None:
    assert fresh_redis.command("PING").startswith(b"+PONG")
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
    finally:
        client.close()
    assert fresh_redis.command("SET", "k", "v").startswith(b"+OK")
    fresh_redis.flush()
    assert fresh_redis.command("DBSIZE") == b":0"
    assert fresh_redis.host == "127.0.0.1"
    assert list(fresh_redis.directory.iterdir()) == []  # no dump.rdb / appendonly files


def test_password_protected_server_stops_on_exit(tmp_path: Path) -> None:
    if find_executable() is None:
        pytest.skip("redis-server is not installed")
    with running_redis_server(tmp_path / "r", password="p@ss word") as server:
        assert server.command("PING").startswith(b"+PONG")
        assert "p%40ss%20word" in server.url
        process = server.process
    assert process is not None and process.poll() is not None


def test_missing_executable_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EXECUTABLE_ENV_VAR, str(tmp_path / "no-such-redis-server"))
    assert find_executable() is None
    with (
        pytest.raises(RedisServerUnavailable, match="apt-get install redis-server"),
        running_redis_server(tmp_path),
    ):
        pass
