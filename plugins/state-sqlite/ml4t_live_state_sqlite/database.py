"""SQLite connection setup and schema: WAL, synchronous=FULL, a busy timeout, one layout version.

Stdlib `sqlite3` is the well-kept library here; this module only fixes the settings that make
it safe for several processes on one host (WAL lets readers run beside the one writer; FULL
fsyncs the WAL on every commit; the busy timeout makes writers queue instead of failing).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

LAYOUT_VERSION = 1
FILE_MODE = 0o600

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS risk_state (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trading_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    asset TEXT,
    seq INTEGER,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_ts ON journal (ts);
CREATE INDEX IF NOT EXISTS journal_asset ON journal (asset, ts);
CREATE INDEX IF NOT EXISTS journal_seq ON journal (seq);
"""


class LayoutError(sqlite3.DatabaseError):
    """The database is readable but is not (this version of) an ml4t-live state database."""


def connect(path: Path, busy_timeout: float, *, create: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=FULL."""
    if create:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch {path} to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        if create:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            with transaction(conn):
                _create(conn)
            _check_layout(conn)
            for suffix in ("", "-wal", "-shm"):
                side = Path(f"{path}{suffix}")
                if side.exists() and side.stat().st_mode & 0o777 != FILE_MODE:
                    os.chmod(side, FILE_MODE)
    except BaseException:
        conn.close()
        raise
    return conn


def _create(conn: sqlite3.Connection) -> None:
    for statement in filter(str.strip, SCHEMA.split(";")):
        conn.execute(statement)
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('layout', ?)", (str(LAYOUT_VERSION),)
    )


def _check_layout(conn: sqlite3.Connection) -> None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'layout'").fetchone()
    if row is None or row[0] != str(LAYOUT_VERSION):
        raise LayoutError(f"database layout {row[0] if row else None!r} is not {LAYOUT_VERSION}")


class transaction:  # noqa: N801 - used as `with transaction(conn):`
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): takes the write lock up front, so a
    writer waits its turn (busy timeout) instead of failing half-way."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:  # SQLite may have rolled back already (e.g. on SQLITE_FULL)
            self.conn.execute("ROLLBACK")
