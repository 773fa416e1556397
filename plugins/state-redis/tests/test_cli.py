"""The state commands of the CLI work on Redis: show fails closed, reset keeps old keys aside."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from ml4t_live_testing.redis_server import RedisServer

from ml4t_live_core.cli import main

STATE = "ml4t-live:desk:state"

# `ml4t-live` commands compose a whole runtime, whose default broker is the sim plugin.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ml4t_live_sim") is None, reason="needs the sim plugin (ml4t-live-sim)"
)


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


def test_show_and_journal_filters_work_on_redis(config: Path, fresh_redis: RedisServer) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    from ml4t_live_state_redis import RedisStateConfig, RedisStateStore

    from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState

    t0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)

    async def seed() -> None:
        settings = {"url": fresh_redis.url, "account": "desk"}
        store = RedisStateStore(RedisStateConfig.model_validate(settings))
        await store.open()
        await store.save_state(RiskState(orders_total=3, next_client_order_seq=4))
        for seq, asset, minutes in ((1, "AAPL", 0), (2, "MSFT", 10), (3, "AAPL", 20)):
            await store.append_journal(JournalRecord(
                t0 + timedelta(minutes=minutes), JournalEvent.SUBMITTED,
                client_order_id=f"s.a-{seq:08d}", asset=asset, side="buy", quantity=1.0,
                order_type="market"))
        await store.close()

    asyncio.run(seed())
    runner = CliRunner()
    shown = runner.invoke(main, ["state", "show", "--config", str(config)])
    assert shown.exit_code == 0 and "orders_total" in shown.output and "3" in shown.output
    aapl = runner.invoke(main, ["journal", "--asset", "aapl", "--config", str(config)])
    assert aapl.exit_code == 0 and "(2 records)" in aapl.output
    since = "2024-01-02T14:35:00+00:00"
    late = runner.invoke(
        main, ["journal", "--since", since, "--asset", "AAPL", "--config", str(config)]
    )
    assert late.exit_code == 0 and "(1 records)" in late.output


@pytest.mark.parametrize(
    "command",
    [
        ["halt", "--reason", "desk"],
        ["resume", "--confirm"],
        ["state", "show"],
        ["state", "reset", "--confirm"],
        ["status"],
        ["journal"],
    ],
)
def test_an_unreachable_redis_is_one_clear_line_not_a_traceback(
    command: list[str], tmp_path: Path, with_sim_broker: None
) -> None:
    path = tmp_path / "live.toml"
    path.write_text(  # nothing listens on port 1
        '[state]\nuse = "redis"\n[state.redis]\n'
        'url = "redis://:hunter2@127.0.0.1:1/0"\nconnect_timeout = 0.5\n'
    )
    result = CliRunner().invoke(main, [*command, "--config", str(path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "could not connect" in result.output and "127.0.0.1:1" in result.output
    assert "Traceback" not in result.output and "hunter2" not in result.output
