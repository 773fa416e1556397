"""Fail closed: a damaged state stops the runtime before it connects, and nothing is reset."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from ml4t.backtest import Strategy
from ml4t_live_sim import SimBroker

from ml4t_live_core.errors import StateCorruptError
from ml4t_live_core.state import STATE_SCHEMA_VERSION, RiskState

from .conftest import durable_store

RESET = "ml4t-live state reset --confirm"


class NeverCalled(Strategy):
    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        raise AssertionError("a runtime with corrupt state must not reach the strategy")


class WatchedBroker(SimBroker):
    connects = 0

    async def connect(self) -> None:
        WatchedBroker.connects += 1
        await super().connect()


def _state_bytes(**changes: object) -> bytes:
    return json.dumps({**RiskState(next_client_order_seq=9).to_dict(), **changes}).encode()


JSON_DAMAGE = {
    "truncated": _state_bytes()[:25],
    "garbage": b"\x89PNG\r\n\x1a\n\x00\x00garbage",
    "newer-schema": _state_bytes(schema_version=STATE_SCHEMA_VERSION + 1),
    "empty": b"",
}


async def _assert_refuses(make_runtime, store, location: str, backend: str) -> None:  # type: ignore[no-untyped-def]
    WatchedBroker.connects = 0
    runtime = make_runtime(NeverCalled(), broker=WatchedBroker(), store=store)
    with pytest.raises(StateCorruptError) as caught:
        await runtime.engine.run(install_signal_handlers=False)
    message = str(caught.value)
    assert backend in message and location in message and RESET in message
    assert WatchedBroker.connects == 0  # refused before any venue was contacted


@pytest.mark.parametrize("damage", sorted(JSON_DAMAGE))
async def test_json_corrupt_state_refuses_to_trade_and_keeps_the_bytes(
    make_runtime, state_dir: Path, damage: str
) -> None:
    state_dir.mkdir()
    path = state_dir / "state.json"
    path.write_bytes(JSON_DAMAGE[damage])
    await _assert_refuses(make_runtime, durable_store("json", state_dir), str(path), "json")
    assert path.read_bytes() == JSON_DAMAGE[damage]
    assert sorted(p.name for p in state_dir.iterdir()) == ["journal.jsonl", "state.json"]


async def test_json_corrupt_journal_line_refuses_to_trade(make_runtime, state_dir: Path) -> None:
    state_dir.mkdir()
    journal = state_dir / "journal.jsonl"
    good = (
        b'{"timestamp":"2024-01-02T14:30:00+00:00","event":"submitted",'
        b'"client_order_id":"a-00000001"}\n'
    )
    raw = good + b'{"timestamp": oops}\n' + good.replace(b'01"', b'02"')
    journal.write_bytes(raw)
    await _assert_refuses(make_runtime, durable_store("json", state_dir), str(journal), "json")
    assert journal.read_bytes() == raw


async def _sqlite_with_state(state_dir: Path) -> Path:
    store = durable_store("sqlite", state_dir)
    await store.open()
    await store.save_state(RiskState(next_client_order_seq=9))
    await store.close()
    return store.path


async def test_sqlite_damaged_database_file_refuses_to_trade(make_runtime, state_dir: Path) -> None:
    path = await _sqlite_with_state(state_dir)
    raw = bytearray(path.read_bytes())
    raw[0:16] = b"definitely not!!"  # the header: no longer a SQLite database
    path.write_bytes(bytes(raw))
    await _assert_refuses(make_runtime, durable_store("sqlite", state_dir), str(path), "sqlite")
    assert path.read_bytes() == bytes(raw)


@pytest.mark.parametrize(
    "body",
    [
        _state_bytes(schema_version=STATE_SCHEMA_VERSION + 5).decode(),
        '{"schema_version": 1, "orders_total": -',
        json.dumps({**RiskState().to_dict(), "surprise": 1}),
    ],
    ids=["newer-schema", "truncated-row", "unknown-field"],
)
async def test_sqlite_wrong_schema_row_refuses_to_trade(
    make_runtime, state_dir: Path, body: str
) -> None:
    path = await _sqlite_with_state(state_dir)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE risk_state SET body = ? WHERE id = 1", (body,))
    await _assert_refuses(make_runtime, durable_store("sqlite", state_dir), str(path), "sqlite")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT body FROM risk_state").fetchone()[0] == body
