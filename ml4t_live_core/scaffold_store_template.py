"""The state-store template of `ml4t-live new-plugin`: a directory store that passes the
StateStore contract (`ml4t_live_testing.state_contract`) as generated."""

from __future__ import annotations

STORE_PLUGIN = '''"""Entry point of $dist: registers the `$name` state store."""

from ml4t_live_core.hookspecs import hookimpl

from $package.store import ${cls}Config, ${cls}Store


@hookimpl
def ml4t_live_register_state_stores(register):
    register("$name", ${cls}Store, config=${cls}Config)
'''

STORE = '''"""The `$name` state store: a directory with state.json (replaced atomically),
journal.jsonl (append-only, fsync'd per record) and trading_state.json. Swap the file calls for your
backend's and keep tests/test_contract.py (the StateStore contract) green.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.errors import StateCorruptError
from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.state import (
    JournalRecord, RiskState, StateSchemaError, decode_record, decode_state, encode_record,
    encode_state, journal_seq, salvage_max_seq, state_after_journal, state_after_reset,
)

log = logging.getLogger("ml4t_live.state.$name")


class ${cls}Config(PluginConfig):
    """Settings of [state.$name]."""

    directory: Path = Path(".ml4t-live-$name")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)  # a reader sees the old file or the new one, never half of one


class ${cls}Store:
    backend = "$name"

    def __init__(self, config: ${cls}Config | None = None):
        self.config = config or ${cls}Config()
        self.directory = self.config.directory
        self.location = str(self.directory)
        self.state_path = self.directory / "state.json"
        self.journal_path = self.directory / "journal.jsonl"
        self.trading_path = self.directory / "trading_state.json"
        self._append_lock = asyncio.Lock()

    async def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    def _corrupt(self, problem: str) -> StateCorruptError:
        return StateCorruptError(self.backend, self.location, problem)

    # --- risk state -------------------------------------------------------------------------
    def _read_state(self) -> RiskState | None:
        if not self.state_path.exists():
            return None
        try:
            return decode_state(self.state_path.read_bytes())
        except (StateSchemaError, ValueError, UnicodeDecodeError) as exc:
            raise self._corrupt(f"state.json: {exc}") from None

    def _journal_max_seq(self) -> int | None:
        seqs = [journal_seq(r.client_order_id) for r in self._read_journal()]
        return max((s for s in seqs if s is not None), default=None)

    async def load_state(self) -> RiskState | None:
        return await asyncio.to_thread(
            lambda: state_after_journal(self._read_state(), self._journal_max_seq())
        )

    async def save_state(self, state: RiskState) -> None:
        await asyncio.to_thread(_atomic_write, self.state_path, encode_state(state))

    # --- journal ------------------------------------------------------------------------------
    def _append(self, record: JournalRecord) -> None:
        with open(self.journal_path, "ab") as handle:
            handle.write(encode_record(record).rstrip(b"\\n") + b"\\n")
            handle.flush()
            os.fsync(handle.fileno())

    async def append_journal(self, record: JournalRecord) -> None:
        async with self._append_lock:  # one writer at a time: every line stays whole
            await asyncio.to_thread(self._append, record)

    def _read_journal(self) -> list[JournalRecord]:
        if not self.journal_path.exists():
            return []
        lines = self.journal_path.read_bytes().split(b"\\n")
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(decode_record(line))
            except (StateSchemaError, ValueError, UnicodeDecodeError) as exc:
                if any(rest.strip() for rest in lines[number:]):
                    raise self._corrupt(f"journal.jsonl line {number}: {exc}") from None
                self._set_torn_tail_aside(line)
        return records

    def _set_torn_tail_aside(self, line: bytes) -> None:
        """A torn last line was never acknowledged: keep its bytes aside and drop it."""
        aside = self.directory / f"journal.jsonl.torn-at-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
        aside.write_bytes(line)
        data = self.journal_path.read_bytes()
        _atomic_write(self.journal_path, data[: data.rfind(line)])
        log.warning("torn last journal record set aside in %s", aside)

    async def read_journal(self, *, since: datetime | None = None,
                           asset: str | None = None) -> Sequence[JournalRecord]:
        records = await asyncio.to_thread(self._read_journal)
        return [r for r in records
                if (since is None or r.timestamp >= since) and (asset is None or r.asset == asset)]

    # --- trading state ------------------------------------------------------------------------
    async def read_trading_state(self) -> TradingStateRecord | None:
        if not self.trading_path.exists():
            return None
        try:
            return TradingStateRecord.from_dict(json.loads(self.trading_path.read_bytes()))
        except (StateSchemaError, ValueError) as exc:
            raise self._corrupt(f"trading_state.json: {exc}") from None

    async def write_trading_state(self, record: TradingStateRecord) -> None:
        payload = json.dumps(record.to_dict()).encode()
        await asyncio.to_thread(_atomic_write, self.trading_path, payload)

    # --- reset --------------------------------------------------------------------------------
    async def reset(self) -> list[str]:
        return await asyncio.to_thread(self._reset)

    def _reset(self) -> list[str]:
        now = datetime.now(UTC)
        kept: list[str] = []
        seqs: list[int] = []
        if self.state_path.exists():
            raw = self.state_path.read_bytes()
            try:
                seqs.append(decode_state(raw).next_client_order_seq - 1)
            except (StateSchemaError, ValueError, UnicodeDecodeError):
                seqs.append(salvage_max_seq(raw) or 0)
            aside = self.directory / f"state.json.reset-{now:%Y%m%dT%H%M%S%f}"
            os.replace(self.state_path, aside)  # moved aside, never deleted
            kept.append(str(aside))
        try:
            seqs.append(self._journal_max_seq() or 0)
        except StateCorruptError:
            raw = self.journal_path.read_bytes()
            seqs.append(salvage_max_seq(raw) or 0)
            aside = self.directory / f"journal.jsonl.reset-{now:%Y%m%dT%H%M%S%f}"
            os.replace(self.journal_path, aside)
            kept.append(str(aside))
        state = state_after_reset(max(seqs, default=0) or None, now)
        _atomic_write(self.state_path, encode_state(state))
        record = TradingStateRecord(state.trading_state, state.trading_state_reason, now)
        _atomic_write(self.trading_path, json.dumps(record.to_dict()).encode())
        return kept
'''

STORE_TEST = '''"""$name passes the ml4t-live StateStore contract."""

from __future__ import annotations

from ml4t_live_testing.state_contract import StateStoreContract

from $package.store import ${cls}Config, ${cls}Store


class Test${cls}Contract(StateStoreContract):
    def make_store(self, location):
        return ${cls}Store(${cls}Config(directory=location))

    def write_raw_state(self, store, raw):
        store.directory.mkdir(parents=True, exist_ok=True)
        store.state_path.write_bytes(raw)

    def read_raw_state(self, store):
        return store.state_path.read_bytes() if store.state_path.exists() else None
'''
