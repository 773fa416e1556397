"""`ml4t-live state show / state reset --confirm / journal` on every durable backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml4t_live_core.cli import main
from ml4t_live_core.plugins import LOAD_ENV_VAR
from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState

from .conftest import durable_store

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables wide enough that ids are not folded across lines."""
    from rich.console import Console

    from ml4t_live_core import state_commands

    monkeypatch.setattr(state_commands, "console", Console(width=250))


@pytest.fixture
def config(backend: str, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(LOAD_ENV_VAR, f"sim,state-{backend}")
    path = tmp_path / "live.toml"
    body = (
        f'directory = "{state_dir}"' if backend == "json" else f'path = "{state_dir / "state.db"}"'
    )
    path.write_text(f'[state]\nuse = "{backend}"\n[state.{backend}]\n{body}\n')
    return path


def seed(
    backend: str, state_dir: Path, state: RiskState | None, records: list[JournalRecord]
) -> None:
    async def write() -> None:
        store = durable_store(backend, state_dir)
        await store.open()
        if state is not None:
            await store.save_state(state)
        for record in records:
            await store.append_journal(record)
        await store.close()

    asyncio.run(write())


def stored_state(backend: str, state_dir: Path) -> bytes:
    """The stored state as kept (the file for JSON; the row for SQLite, whose file pages move
    between the WAL and the database on checkpoints without changing content)."""
    if backend == "json":
        return (state_dir / "state.json").read_bytes()
    import sqlite3

    with sqlite3.connect(state_dir / "state.db") as conn:
        return conn.execute("SELECT body FROM risk_state WHERE id = 1").fetchone()[0].encode()


def corrupt(backend: str, state_dir: Path) -> tuple[Path, bytes]:
    """Damage the stored state; returns where it is and what it holds, to check nothing changes."""
    if backend == "json":
        path = state_dir / "state.json"
        path.write_bytes(b'{"schema_version": 1, "orders_')
    else:
        import sqlite3

        path = state_dir / "state.db"
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE risk_state SET body = 'not json' WHERE id = 1")
    return path, stored_state(backend, state_dir)


def order(seq: int, asset: str, minutes: int) -> JournalRecord:
    return JournalRecord(
        T0 + timedelta(minutes=minutes),
        JournalEvent.SUBMITTED,
        client_order_id=f"s.a-{seq:08d}",
        asset=asset,
        side="buy",
        quantity=float(seq),
        order_type="market",
    )


def test_show_prints_the_state(backend: str, state_dir: Path, config: Path) -> None:
    seed(
        backend,
        state_dir,
        RiskState(orders_total=12, next_client_order_seq=13),
        [order(12, "AAPL", 0)],
    )
    result = CliRunner().invoke(main, ["state", "show", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "orders_total" in result.output and "12" in result.output and backend in result.output


def test_show_of_a_corrupt_state_explains_and_exits_non_zero(
    backend: str, state_dir: Path, config: Path
) -> None:
    seed(backend, state_dir, RiskState(), [])
    path, raw = corrupt(backend, state_dir)
    result = CliRunner().invoke(main, ["state", "show", "--config", str(config)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert backend in result.output and str(path) in result.output.replace("\n", "")
    assert "ml4t-live state reset --confirm" in result.output.replace("\n", " ")
    assert stored_state(backend, state_dir) == raw


def test_reset_refuses_without_confirm(backend: str, state_dir: Path, config: Path) -> None:
    seed(backend, state_dir, RiskState(), [])
    path, raw = corrupt(backend, state_dir)
    result = CliRunner().invoke(main, ["state", "reset", "--config", str(config)])
    assert result.exit_code == 2 and "--confirm" in result.output
    assert stored_state(backend, state_dir) == raw


def test_reset_with_confirm_keeps_the_old_bytes_and_halts(
    backend: str, state_dir: Path, config: Path
) -> None:
    seed(backend, state_dir, RiskState(), [order(7, "AAPL", 0)])
    corrupt(backend, state_dir)
    result = CliRunner().invoke(main, ["state", "reset", "--confirm", "--config", str(config)])
    assert result.exit_code == 0, result.output
    kept = [p for p in state_dir.iterdir() if ".reset-" in p.name]
    assert kept and all(str(p) in result.output.replace("\n", "") for p in kept)
    shown = CliRunner().invoke(main, ["state", "show", "--config", str(config)])
    assert shown.exit_code == 0 and "halted" in shown.output
    store = durable_store(backend, state_dir)
    state = asyncio.run(store.load_state())
    assert state is not None and state.next_client_order_seq == 8


def test_journal_filters_by_since_and_asset(backend: str, state_dir: Path, config: Path) -> None:
    seed(
        backend, state_dir, None, [order(1, "AAPL", 0), order(2, "MSFT", 10), order(3, "AAPL", 20)]
    )
    runner = CliRunner()
    everything = runner.invoke(main, ["journal", "--config", str(config)])
    assert everything.exit_code == 0 and "(3 records)" in everything.output
    aapl = runner.invoke(main, ["journal", "--asset", "aapl", "--config", str(config)])
    assert "(2 records)" in aapl.output and "s.a-00000002" not in aapl.output
    late = runner.invoke(
        main, ["journal", "--since", "2024-01-02T14:35:00", "--config", str(config)]
    )
    assert "(2 records)" in late.output and "s.a-00000001" not in late.output
    both = runner.invoke(
        main,
        [
            "journal",
            "--since",
            "2024-01-02T14:35:00+00:00",
            "--asset",
            "AAPL",
            "--config",
            str(config),
        ],
    )
    assert "(1 records)" in both.output and "s.a-00000003" in both.output
    bad = runner.invoke(main, ["journal", "--since", "yesterday", "--config", str(config)])
    assert bad.exit_code == 2 and "ISO" in bad.output
