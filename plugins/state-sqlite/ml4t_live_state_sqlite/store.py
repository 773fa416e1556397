"""SqliteStateStore: risk state, journal and trading state in one SQLite database (WAL).

Several processes on one host may share the file: each statement is a transaction, writers
queue on the busy timeout, readers never wait for writers (WAL). All blocking calls run on
one dedicated thread per store, except the cheap trading-state poll (see `read_trading_state`).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.errors import StateCorruptError, StateUnavailableError
from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.state import (
    JournalEvent,
    JournalRecord,
    RiskState,
    StateSchemaError,
    decode_record,
    decode_state,
    encode_record,
    encode_state,
    journal_seq,
    salvage_max_seq,
    state_after_journal,
    state_after_reset,
)
from ml4t_live_state_sqlite.database import connect, transaction

log = logging.getLogger("ml4t_live.state.sqlite")
T = TypeVar("T")


class SqliteStateConfig(PluginConfig):
    """[state.sqlite]: the database file (relative: to the working directory) and lock wait."""

    path: Path = Path(".ml4t-live/state.db")
    busy_timeout: float = Field(default=5.0, gt=0, le=120)


class SqliteStateUnavailableError(StateUnavailableError):
    """The database cannot be used now (locked, cannot be opened, I/O error): the call did not
    complete and nothing of it was acknowledged. Not corruption: a later try may work."""


class SqliteStateStore:
    backend = "sqlite"

    def __init__(self, config: SqliteStateConfig | None = None):
        config = config or SqliteStateConfig()
        self.path = Path(config.path).expanduser().absolute()
        self.location = str(self.path)
        self.busy_timeout = config.busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._trading_version: int | None = None
        self._trading_cached: TradingStateRecord | None = None
        # recent_submissions: sorted order times, the highest journal id read, the window start
        self._recent: list[datetime] = []
        self._recent_id = 0
        self._recent_horizon: datetime | None = None

    # --- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ml4t-sqlite-store")
        try:
            await self._run(self._open)
        except BaseException:
            await self.close()
            raise

    def _open(self) -> None:
        self._conn = connect(self.path, self.busy_timeout, create=True)
        # The poll connection never writes; it only runs on the loop thread (see below).
        self._reader = connect(self.path, min(self.busy_timeout, 0.5), create=False)
        self._reader.execute("PRAGMA query_only = 1")
        self._trading_version = None  # data_version values are per connection: start over
        self._recent_horizon = None  # a reset may have replaced the journal: read it afresh

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.submit(self._close_connections).result()
            executor.shutdown(wait=True)

    def _close_connections(self) -> None:
        for conn in (self._conn, self._reader):
            if conn is not None:
                conn.close()
        self._conn = self._reader = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            await self.open()
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._guard, fn, *args
        )

    def _guard(self, fn: Callable[..., T], *args: Any) -> T:
        """Map a damaged database to `StateCorruptError`, and a database that cannot be used
        now (locked past `busy_timeout`, cannot be opened, disk I/O) to one that says so."""
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc
        except (sqlite3.DatabaseError, StateSchemaError) as exc:
            raise self._corrupt(str(exc)) from None

    def _unavailable(self, exc: sqlite3.OperationalError) -> SqliteStateUnavailableError:
        return SqliteStateUnavailableError(
            f"sqlite state at {self.location} cannot be used now: {exc}"
        )

    def _corrupt(self, problem: str) -> StateCorruptError:
        return StateCorruptError(self.backend, self.location, problem)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._open()
        assert self._conn is not None
        return self._conn

    # --- risk state ------------------------------------------------------------------------
    async def load_state(self) -> RiskState | None:
        return await self._run(self._load_state)

    def _load_state(self) -> RiskState | None:
        conn = self._db()
        conn.execute("BEGIN")  # one snapshot for the state and the journal's highest id
        try:
            row = conn.execute("SELECT body FROM risk_state WHERE id = 1").fetchone()
            max_seq = conn.execute("SELECT MAX(seq) FROM journal").fetchone()[0]
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
        state = None
        if row is not None:
            try:
                state = decode_state(row[0])
            except StateSchemaError as exc:
                raise self._corrupt(f"risk_state row: {exc}") from None
        return state_after_journal(state, max_seq)

    async def save_state(self, state: RiskState) -> None:
        body = encode_state(state).decode()
        await self._run(
            self._execute, "INSERT OR REPLACE INTO risk_state (id, body) VALUES (1, ?)", (body,)
        )

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        with transaction(self._db()) as conn:
            conn.execute(sql, params)

    # --- journal ---------------------------------------------------------------------------
    async def append_journal(self, record: JournalRecord) -> None:
        await self._run(self._execute, _INSERT_RECORD, _journal_row(record))

    async def append_journal_many(self, records: Sequence[JournalRecord]) -> None:
        """Group commit: every record in one transaction (one WAL fsync)."""
        if records:
            await self._run(self._insert_records, [_journal_row(r) for r in records])

    def _insert_records(self, rows: list[tuple[Any, ...]]) -> None:
        with transaction(self._db()) as conn:
            conn.executemany(_INSERT_RECORD, rows)

    async def read_journal(
        self, *, since: datetime | None = None, asset: str | None = None
    ) -> Sequence[JournalRecord]:
        return await self._run(self._read_journal, since, asset)

    def _read_journal(self, since: datetime | None, asset: str | None) -> list[JournalRecord]:
        sql = "SELECT id, body FROM journal WHERE 1 = 1"
        params: list[float | str] = []
        if since is not None:
            sql, params = sql + " AND ts >= ?", [*params, since.timestamp()]
        if asset is not None:
            sql, params = sql + " AND asset = ?", [*params, asset]
        records = []
        for row_id, body in self._db().execute(sql + " ORDER BY id", params):
            try:
                records.append(decode_record(body))
            except StateSchemaError as exc:
                raise self._corrupt(f"journal row {row_id}: {exc}") from None
        return records

    async def recent_submissions(self, since: datetime) -> list[datetime]:
        """Times of live orders submitted at or after `since` by every process on this file.

        On the loop, like `read_trading_state`: a WAL read never waits for a writer. The first
        call reads the window over the `ts` index; later ones only the rows added since (ids
        grow in commit order: SQLite has one writer at a time).
        """
        if self._reader is None:
            await self.open()
        assert self._reader is not None
        wider = self._recent_horizon is None or since < self._recent_horizon
        where, params = ("ts >= ?", since.timestamp()) if wider else ("id > ?", self._recent_id)
        try:
            rows = self._reader.execute(
                f"SELECT id, ts, json_extract(body, '$.event') = ?"
                f" AND NOT json_extract(body, '$.shadow') FROM journal WHERE {where} ORDER BY id",
                (JournalEvent.SUBMITTED.value, params),
            ).fetchall()
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(f"journal: {exc}") from None
        if wider:
            self._recent, self._recent_id = [], 0
        for row_id, ts, counts in rows:
            self._recent_id = max(self._recent_id, row_id)
            if counts:
                bisect.insort(self._recent, datetime.fromtimestamp(ts, UTC))
        self._recent_horizon = since
        del self._recent[: bisect.bisect_left(self._recent, since)]
        return list(self._recent)

    # --- trading state ---------------------------------------------------------------------
    async def read_trading_state(self) -> TradingStateRecord | None:
        # On the loop on purpose (SafeBroker asks before every order): `PRAGMA data_version`
        # only reads the WAL index in shared memory (~µs) and changes whenever any other
        # connection commits; the row is re-read only then. A WAL reader never waits for the
        # writer, so this cannot stall the loop behind a long transaction.
        if self._reader is None:
            await self.open()
        assert self._reader is not None
        try:
            version = self._reader.execute("PRAGMA data_version").fetchone()[0]
            if version != self._trading_version:
                row = self._reader.execute("SELECT body FROM trading_state WHERE id = 1").fetchone()
                self._trading_cached = (
                    None if row is None else TradingStateRecord.from_dict(json.loads(row[0]))
                )
                self._trading_version = version
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc
        except (sqlite3.DatabaseError, StateSchemaError, ValueError) as exc:
            raise self._corrupt(f"trading_state row: {exc}") from None
        return self._trading_cached

    async def write_trading_state(self, record: TradingStateRecord) -> None:
        body = json.dumps(record.to_dict())
        await self._run(
            self._execute, "INSERT OR REPLACE INTO trading_state (id, body) VALUES (1, ?)", (body,)
        )

    # --- reset -----------------------------------------------------------------------------
    async def reset(self) -> list[str]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="ml4t-sqlite-store"
            )
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._reset)

    def _reset(self) -> list[str]:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        files = [Path(f"{self.path}{s}") for s in ("", "-wal") if Path(f"{self.path}{s}").exists()]
        raw = b"".join(p.read_bytes() for p in files)
        try:
            if self._conn is None:
                self._open()
            self._read_journal(None, None)  # a journal we cannot read is set aside whole
            sound = True
        except (sqlite3.DatabaseError, StateSchemaError, StateCorruptError) as exc:
            log.warning(
                "sqlite state %s is damaged (%s); setting the whole database aside", self.path, exc
            )
            sound = False
        kept = []
        if sound:
            row = self._db().execute("SELECT body FROM risk_state WHERE id = 1").fetchone()
            max_seq = max(
                filter(
                    None,
                    [
                        self._db().execute("SELECT MAX(seq) FROM journal").fetchone()[0],
                        salvage_max_seq(row[0].encode()) if row else None,
                    ],
                ),
                default=None,
            )
            side = Path(f"{self.path}.reset-{stamp}")
            self._db().execute("VACUUM INTO ?", (str(side),))  # a consistent copy of everything
            os.chmod(side, 0o600)
            kept.append(str(side))
        else:
            max_seq = salvage_max_seq(raw)
            self._close_connections()
            for path in files:  # moved, never deleted: the bytes stay for inspection
                side = Path(f"{path}.corrupt-{stamp}")
                os.rename(path, side)
                kept.append(str(side))
            Path(f"{self.path}-shm").unlink(missing_ok=True)  # derived index, rebuilt from the WAL
        state = state_after_reset(max_seq, datetime.now(UTC))
        record = TradingStateRecord(
            state.trading_state, state.trading_state_reason, state.trading_state_since
        )
        with transaction(self._db()) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO risk_state (id, body) VALUES (1, ?)",
                (encode_state(state).decode(),),
            )
            conn.execute(
                "INSERT OR REPLACE INTO trading_state (id, body) VALUES (1, ?)",
                (json.dumps(record.to_dict()),),
            )
        return kept


_INSERT_RECORD = "INSERT INTO journal (ts, asset, seq, body) VALUES (?, ?, ?, ?)"


def _journal_row(record: JournalRecord) -> tuple[Any, ...]:
    return (
        record.timestamp.timestamp(),
        record.asset,
        journal_seq(record.client_order_id),
        encode_record(record).decode(),
    )
