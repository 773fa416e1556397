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
    # No assertion on kills landing mid-save: a Redis save is one short server-side script, so
    # under load a run can miss every one; atomicity is the server's, old-or-new is checked below.
    assert report.outcomes["old"] + report.outcomes["new"] == KILLS
