"""The durability steps themselves, which a SIGKILL test cannot see (the page cache survives a
killed process; only power loss shows a missing fsync): the real os calls are observed, in
order, as each store method runs."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ml4t_live_state_json import JsonStateConfig, JsonStateStore
from ml4t_live_state_sqlite import SqliteStateConfig, SqliteStateStore

from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class SyscallLog:
    """Calls through to the real os functions, noting which file each one touched."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str]] = []
        self._paths: dict[int, str] = {}
        real_open, real_close = os.open, os.close
        real_fsync, real_fdatasync, real_replace = os.fsync, os.fdatasync, os.replace

        def opened(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
            fd = real_open(path, flags, mode, *args, **kwargs)
            self._paths[fd] = os.fspath(path)
            return fd

        def closed(fd: int) -> None:
            self._paths.pop(fd, None)
            real_close(fd)

        def synced(name: str, real: Any) -> Any:
            def call(fd: int) -> None:
                real(fd)  # the call is noted once it returned: the bytes are durable
                self.calls.append((name, self._paths.get(fd, f"fd {fd}")))
            return call

        def replaced(src: Any, dst: Any) -> None:
            real_replace(src, dst)
            self.calls.append(("replace", f"{os.fspath(src)} -> {os.fspath(dst)}"))

        monkeypatch.setattr(os, "open", opened)
        monkeypatch.setattr(os, "close", closed)
        monkeypatch.setattr(os, "fsync", synced("fsync", real_fsync))
        monkeypatch.setattr(os, "fdatasync", synced("fdatasync", real_fdatasync))
        monkeypatch.setattr(os, "replace", replaced)


@pytest.mark.parametrize("fsync_on_loop", [False, True])
async def test_json_state_is_written_to_a_temp_file_synced_replaced_then_the_directory_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync_on_loop: bool
) -> None:
    directory = tmp_path / "state"
    store = JsonStateStore(JsonStateConfig(directory=directory), fsync_on_loop=fsync_on_loop)
    await store.open()
    try:
        for target, write in (
            ("state.json", lambda: store.save_state(RiskState(orders_total=3))),
            ("trading_state.json", lambda: store.write_trading_state(
                TradingStateRecord(TradingState.HALTED, "test", T0))),
        ):
            log = SyscallLog(monkeypatch)
            await write()
            final = str(directory / target)
            (fsync_tmp, tmp), (replace, moved), (fsync_dir, synced_dir) = log.calls
            assert fsync_tmp == "fsync" and Path(tmp).parent == directory and tmp != final
            assert (replace, moved) == ("replace", f"{tmp} -> {final}")
            assert (fsync_dir, synced_dir) == ("fsync", str(directory))
            monkeypatch.undo()
    finally:
        await store.close()
    assert (await _reloaded(directory)).orders_total == 3


async def _reloaded(directory: Path) -> RiskState:
    store = JsonStateStore(JsonStateConfig(directory=directory))
    await store.open()
    try:
        state = await store.load_state()
    finally:
        await store.close()
    assert state is not None
    return state


async def test_json_journal_append_returns_only_after_its_record_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "state"
    store = JsonStateStore(JsonStateConfig(directory=directory))
    await store.open()
    log = SyscallLog(monkeypatch)  # after open: the journal's fd is known by inode below
    journal = directory / "journal.jsonl"
    inode = journal.stat().st_ino
    try:
        for seq in range(1, 6):
            before = len(log.calls)
            size = journal.stat().st_size
            await store.append_journal(JournalRecord(
                timestamp=T0, event=JournalEvent.SUBMITTED, client_order_id=f"s-{seq:08d}"))
            syncs = [c for c in log.calls[before:] if c[0] in ("fsync", "fdatasync")]
            assert syncs, f"append {seq} returned without a sync"
            assert journal.stat().st_size > size and journal.stat().st_ino == inode
    finally:
        await store.close()


async def test_sqlite_runs_in_wal_mode_with_a_full_sync_on_commit(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStateStore(SqliteStateConfig(path=path))
    await store.open()
    try:
        await store.save_state(RiskState())
        assert store._conn is not None
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        await store.close()
    # WAL is recorded in the file itself: any other process opening it runs in WAL too.
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()
