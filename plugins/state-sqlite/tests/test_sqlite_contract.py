"""The SQLite backend passes the shared StateStore contract."""

from __future__ import annotations

import sqlite3
from typing import Any

from ml4t_live_state_sqlite import SqliteStateConfig, SqliteStateStore
from ml4t_live_testing.state_contract import StateStoreContract


class TestSqliteStateStore(StateStoreContract):
    def make_store(self, location: Any) -> SqliteStateStore:
        return SqliteStateStore(SqliteStateConfig(path=location / "state.db"))

    def write_raw_state(self, store: Any, raw: bytes) -> None:
        with sqlite3.connect(store.path) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO risk_state (id, body) VALUES (1, ?)",
                (raw.decode("latin-1"),),
            )

    def read_raw_state(self, store: Any) -> bytes | None:
        with sqlite3.connect(store.path) as conn:
            row = conn.execute("SELECT body FROM risk_state WHERE id = 1").fetchone()
        return None if row is None else row[0].encode("latin-1")
