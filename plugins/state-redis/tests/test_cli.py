"""The state commands of the CLI work on Redis: show fails closed, reset keeps old keys aside."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from ml4t_live_testing.redis_server import RedisServer

from ml4t_live_core.cli import main

STATE = "ml4t-live:desk:state"


@pytest.fixture
def config(fresh_redis: RedisServer, tmp_path: Path, with_sim_broker: None) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(
        f'[state]\nuse = "redis"\n[state.redis]\nurl = "{fresh_redis.url}"\naccount = "desk"\n'
    )
    return path


def test_show_refuses_corrupt_state_and_reset_keeps_it_aside(
    config: Path, fresh_redis: RedisServer
) -> None:
    runner = CliRunner()
    with redis.Redis.from_url(fresh_redis.url) as client:
        client.set(STATE, b"\x00garbage")
        shown = runner.invoke(main, ["state", "show", "--config", str(config)])
        assert shown.exit_code == 1
        assert (
            "redis state at redis://127.0.0.1" in shown.output
            and "state reset --confirm" in shown.output
        )
        assert client.get(STATE) == b"\x00garbage"

        refused = runner.invoke(main, ["state", "reset", "--config", str(config)])
        assert refused.exit_code != 0 and client.get(STATE) == b"\x00garbage"

        reset = runner.invoke(main, ["state", "reset", "--confirm", "--config", str(config)])
        assert reset.exit_code == 0, reset.output
        aside = [k.decode() for k in client.keys("ml4t-live:desk:aside:*")]
        assert len(aside) == 1 and client.get(aside[0]) == b"\x00garbage"

        shown = runner.invoke(main, ["state", "show", "--config", str(config)])
        assert shown.exit_code == 0 and "halted" in shown.output

        halted = runner.invoke(main, ["resume", "--confirm", "--config", str(config)])
        assert halted.exit_code == 0, halted.output
        journal = runner.invoke(main, ["journal", "--config", str(config)])
        assert journal.exit_code == 0 and "(2 records)" in journal.output  # reset + resume
        assert client.xlen("ml4t-live:desk:journal") == 2
