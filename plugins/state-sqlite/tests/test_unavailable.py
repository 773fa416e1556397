"""A database that cannot be used now (cannot be opened, locked too long) is a clear
`StateUnavailableError` naming the file, not a raw sqlite3 error or a traceback in the CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from ml4t_live_state_sqlite import SqliteStateConfig, SqliteStateStore, SqliteStateUnavailableError

from ml4t_live_core.errors import StateUnavailableError
from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.risk import TradingState


async def test_a_path_that_cannot_be_opened_names_the_file(tmp_path: Path) -> None:
    taken = tmp_path / "state.db"
    taken.mkdir()  # a directory where the database file should be
    store = SqliteStateStore(SqliteStateConfig(path=taken))
    with pytest.raises(StateUnavailableError, match=f"sqlite state at {taken}.*unable to open"):
        await store.open()


async def test_a_lock_held_past_busy_timeout_fails_the_write_and_says_so(tmp_path: Path) -> None:
    store = SqliteStateStore(SqliteStateConfig(path=tmp_path / "state.db", busy_timeout=0.1))
    await store.open()
    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        halt = TradingStateRecord(TradingState.HALTED, "test", datetime(2024, 1, 2, tzinfo=UTC))
        with pytest.raises(SqliteStateUnavailableError, match="database is locked"):
            await store.write_trading_state(halt)
        other.execute("ROLLBACK")
        await store.write_trading_state(halt)  # the next try works: nothing was corrupted
        assert await store.read_trading_state() == halt
    finally:
        other.close()
        await store.close()


def test_cli_halt_on_an_unusable_database_is_one_clear_line(
    tmp_path: Path, load_only: Callable[..., None]
) -> None:
    load_only("sim", "state-sqlite")  # a config needs a broker: skips where sim is absent
    from ml4t_live_core.cli import main

    taken = tmp_path / "state.db"
    taken.mkdir()
    config = tmp_path / "live.toml"
    config.write_text(f'[state]\nuse = "sqlite"\n[state.sqlite]\npath = "{taken}"\n')
    result = CliRunner().invoke(main, ["halt", "--reason", "x", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"sqlite state at {taken}" in result.output and "Traceback" not in result.output
