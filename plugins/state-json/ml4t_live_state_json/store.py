"""JsonStateStore: atomic JSON state file, fsync'd append-only JSONL journal, trading-state file.

Layout of the directory (0700; files 0600): `state.json` (risk state, replaced atomically),
`journal.jsonl` (one record per line, one fdatasync per append or group of records),
`trading_state.json` (the halt flag other processes and `ml4t-live halt` write). Side files
`*.torn-at-*`, `*.reset-*` hold bytes set aside; they are never deleted by the runtime.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.errors import StateCorruptError
from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.state import (
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
from ml4t_live_state_json.files import (
    DIR_MODE,
    FILE_MODE,
    atomic_write,
    keep_aside,
    locked,
    read_optional,
    set_torn_tail_aside,
)

log = logging.getLogger("ml4t_live.state.json")
T = TypeVar("T")


class JsonStateConfig(PluginConfig):
    """[state.json]: where the state directory lives (relative paths: to the working directory)."""

    directory: Path = Path(".ml4t-live")


class JsonStateStore:
    """The default durable backend: one process trades, others (CLI) may read and halt."""

    backend = "json"

    def __init__(self, config: JsonStateConfig | None = None, *, fsync_on_loop: bool = False):
        config = config or JsonStateConfig()
        self.directory = Path(config.directory).expanduser().absolute()
        self.location = str(self.directory)
        self.state_path = self.directory / "state.json"
        self.journal_path = self.directory / "journal.jsonl"
        self.trading_path = self.directory / "trading_state.json"
        # One dedicated writer thread, measured in benchmarks/bench_persistence.py: on a quiet
        # disk the thread hop costs ~100 us per order (p50 ~370 us vs ~270 us with fdatasync on
        # the loop, floor ~190 us); on a busy disk (fsync ~4 ms) both sit at the floor, but on
        # the loop every feed/fill handler then waits behind the disk (heartbeat p99 ~15 ms vs
        # ~6 ms). A slow disk must not stall the loop, so the thread wins.
        # `fsync_on_loop` exists only so the benchmark can measure the alternative.
        self._fsync_on_loop = fsync_on_loop
        self._executor: ThreadPoolExecutor | None = None
        self._journal_fd: int | None = None
        self._trading_key: tuple[int, int, int] | None = None
        self._trading_cached: TradingStateRecord | None = None

    # --- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        if self._journal_fd is not None:
            return
        if not self._fsync_on_loop:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ml4t-json-store")
        await self._run(self._open_files)

    def _open_files(self) -> None:
        self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self._journal_fd = os.open(
            self.journal_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE
        )
        for path in (self.journal_path, self.state_path, self.trading_path):
            if path.exists() and path.stat().st_mode & 0o777 != FILE_MODE:
                os.chmod(path, FILE_MODE)

    async def close(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            if not self._fsync_on_loop:
                await self.open()
                return await self._run(fn, *args)
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _corrupt(self, path: Path, problem: str) -> StateCorruptError:
        return StateCorruptError(self.backend, str(path), problem)

    # --- risk state ------------------------------------------------------------------------
    async def load_state(self) -> RiskState | None:
        return await self._run(self._load_state)

    def _load_state(self) -> RiskState | None:
        raw = read_optional(self.state_path)
        state = None
        if raw is not None:
            try:
                state = decode_state(raw)
            except StateSchemaError as exc:
                raise self._corrupt(self.state_path, str(exc)) from None
        records = self._read_records()
        seqs = [s for s in (journal_seq(r.client_order_id) for r in records) if s is not None]
        return state_after_journal(state, max(seqs, default=None))

    async def save_state(self, state: RiskState) -> None:
        data = encode_state(state)
        await self._run(atomic_write, self.state_path, data)

    # --- journal ---------------------------------------------------------------------------
    async def append_journal(self, record: JournalRecord) -> None:
        line = encode_record(record) + b"\n"
        await self._run(self._append, line)

    async def append_journal_many(self, records: Sequence[JournalRecord]) -> None:
        """Group commit: every record as one write and one fdatasync (a crash mid-write leaves
        whole lines plus at most a torn tail, set aside at the next append)."""
        if records:
            await self._run(self._append, b"".join([encode_record(r) + b"\n" for r in records]))

    def _append(self, line: bytes) -> None:
        if self._journal_fd is None:
            self._open_files()
        fd = self._journal_fd
        assert fd is not None
        with locked(fd):
            set_torn_tail_aside(fd, self.journal_path)
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            # fdatasync: the data and the new file size (what a reader needs to find the record)
            # reach the disk; only timestamps are left to the next journal commit. POSIX durable
            # for an append, and about half the cost of fsync on this machine's ext4.
            os.fdatasync(fd)

    async def read_journal(
        self, *, since: datetime | None = None, asset: str | None = None
    ) -> Sequence[JournalRecord]:
        records = await self._run(self._read_records)
        return [
            r
            for r in records
            if (since is None or r.timestamp >= since) and (asset is None or r.asset == asset)
        ]

    def _read_records(self) -> list[JournalRecord]:
        raw = read_optional(self.journal_path) or b""
        end = raw.rfind(b"\n") + 1
        if end < len(raw):
            log.warning(
                "journal %s: torn last record (%d bytes at offset %d, a crash mid-append; "
                "never acknowledged, so never sent); it is set aside at the next append",
                self.journal_path,
                len(raw) - end,
                end,
            )
        records = []
        offset = 0
        for number, line in enumerate(raw[:end].split(b"\n")[:-1], start=1):
            try:
                records.append(decode_record(line))
            except StateSchemaError as exc:
                raise self._corrupt(
                    self.journal_path, f"journal line {number} (offset {offset}): {exc}"
                ) from None
            offset += len(line) + 1
        return records

    # --- trading state ---------------------------------------------------------------------
    async def read_trading_state(self) -> TradingStateRecord | None:
        # Runs on the loop on purpose: SafeBroker calls it before every order, and a stat() of
        # a page-cached file (~2 us) is far cheaper than a thread hop; the file is only re-read
        # (a few hundred bytes) when its inode, mtime or size changed.
        try:
            st = os.stat(self.trading_path)
        except FileNotFoundError:
            self._trading_key, self._trading_cached = None, None
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._trading_key:
            raw = read_optional(self.trading_path)
            if raw is None:
                return None
            self._trading_cached = self._decode_trading(raw)
            self._trading_key = key
        return self._trading_cached

    def _decode_trading(self, raw: bytes) -> TradingStateRecord:
        try:
            return TradingStateRecord.from_dict(json.loads(raw))
        except (ValueError, StateSchemaError) as exc:
            raise self._corrupt(self.trading_path, f"trading state: {exc}") from None

    async def write_trading_state(self, record: TradingStateRecord) -> None:
        await self._run(atomic_write, self.trading_path, json.dumps(record.to_dict()).encode())

    # --- reset -----------------------------------------------------------------------------
    async def reset(self) -> list[str]:
        return await self._run(self._reset)

    def _reset(self) -> list[str]:
        self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        kept: list[str] = []
        seqs: list[int] = []
        for path in (self.state_path, self.trading_path):
            raw = read_optional(path)
            if raw is not None:
                kept.append(str(keep_aside(path, raw, "reset")))
                seqs.append(salvage_max_seq(raw) or 0)
        try:
            seqs += [s for s in (journal_seq(r.client_order_id) for r in self._read_records()) if s]
        except StateCorruptError as exc:
            raw = read_optional(self.journal_path) or b""
            seqs.append(salvage_max_seq(raw) or 0)
            side = keep_aside(self.journal_path, raw, "reset")
            kept.append(str(side))
            self._replace_journal()
            log.warning(
                "journal %s was corrupt (%s); its bytes are kept in %s",
                self.journal_path,
                exc.problem,
                side,
            )
        state = state_after_reset(max(seqs, default=None), datetime.now(UTC))
        atomic_write(self.state_path, encode_state(state))
        record = TradingStateRecord(
            state.trading_state, state.trading_state_reason, state.trading_state_since
        )
        atomic_write(self.trading_path, json.dumps(record.to_dict()).encode())
        return kept

    def _replace_journal(self) -> None:
        atomic_write(self.journal_path, b"")
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = os.open(
                self.journal_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE
            )
