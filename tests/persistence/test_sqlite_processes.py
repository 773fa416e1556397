"""Several processes append to one SQLite state database at once: every record lands whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import durable_store

WRITER = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from ml4t_live_core.state import JournalEvent, JournalRecord
from ml4t_live_state_sqlite import SqliteStateConfig, SqliteStateStore

async def main(path, name, n):
    store = SqliteStateStore(SqliteStateConfig(path=Path(path)))
    await store.open()
    for i in range(n):
        await store.append_journal(JournalRecord(datetime.now(UTC), JournalEvent.SUBMITTED,
                                                 client_order_id=f"{name}-{i + 1:08d}", asset=name))
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_concurrent_writer_processes_lose_nothing(state_dir: Path) -> None:
    store = durable_store("sqlite", state_dir)
    await store.open()  # create the database first, as a runtime would
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store.path), name, "150"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("P1", "P2", "P3")
    ]
    for proc in writers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    records = await store.read_journal()
    for name in ("P1", "P2", "P3"):
        mine = [r.client_order_id for r in records if r.asset == name]
        assert mine == [
            f"{name}-{i:08d}" for i in range(1, 151)
        ]  # all there, in each writer's order
    loaded = await store.load_state()
    assert loaded is not None and loaded.next_client_order_seq == 151
    await store.close()
