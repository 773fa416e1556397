"""SIGKILL a writer at random moments: Redis state stays old-or-new, the stream never tears."""

from __future__ import annotations

import pytest
from ml4t_live_testing.crash import run_crash_test
from ml4t_live_testing.redis_server import RedisServer

from ml4t_live_core.plugins import LOAD_ENV_VAR

KILLS = 72


def test_killed_writers_leave_whole_updates(
    fresh_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOAD_ENV_VAR, "state-redis")  # the checker, in this process, loads only ours
    report = run_crash_test(
        "redis",
        {"url": fresh_redis.url, "account": "crash"},
        kills=KILLS,
        max_delay=0.25,
        seed=5,
        env={LOAD_ENV_VAR: "state-redis"},
    )
    assert report.kills == KILLS
    assert report.torn_records_reported == 0  # an XADD is whole or absent: nothing to set aside
    assert report.versions_written > KILLS  # the writers got well past start-up
    assert report.killed_mid_save > 0  # some kills landed inside a save
    assert report.outcomes["old"] + report.outcomes["new"] == KILLS
