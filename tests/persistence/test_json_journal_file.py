"""JSON backend files: torn last record reported and set aside, modes 0600, atomic state."""

from __future__ import annotations

import logging
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ml4t_live_core.errors import StateCorruptError
from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState, encode_record

from .conftest import durable_store

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def record(seq: int) -> JournalRecord:
    return JournalRecord(
        T0,
        JournalEvent.SUBMITTED,
        client_order_id=f"s.a-{seq:08d}",
        asset="AAPL",
        side="buy",
        quantity=5.0,
    )


async def test_torn_last_record_is_reported_then_set_aside(
    state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = durable_store("json", state_dir)
    await store.open()
    await store.append_journal(record(1))
    whole = store.journal_path.read_bytes()
    torn = encode_record(record(2))[:-9]  # a crash mid-append: no closing bytes, no newline
    with open(store.journal_path, "ab") as fh:
        fh.write(torn)

    with caplog.at_level(logging.WARNING, logger="ml4t_live"):
        records = await store.read_journal()
    assert [r.client_order_id for r in records] == ["s.a-00000001"]  # never parsed
    assert f"offset {len(whole)}" in caplog.text and str(store.journal_path) in caplog.text
    assert (await store.load_state()).next_client_order_seq == 2  # type: ignore[union-attr]

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ml4t_live"):
        await store.append_journal(record(2))
    sides = list(state_dir.glob("journal.jsonl.torn-at-*"))
    assert len(sides) == 1 and sides[0].read_bytes() == torn  # kept, not dropped
    assert str(sides[0]) in caplog.text and f"offset {len(whole)}" in caplog.text
    assert [r.client_order_id for r in await store.read_journal()] == [
        "s.a-00000001",
        "s.a-00000002",
    ]
    await store.close()


async def test_corruption_before_the_last_line_is_state_corrupt(state_dir: Path) -> None:
    store = durable_store("json", state_dir)
    await store.open()
    for seq in (1, 2, 3):
        await store.append_journal(record(seq))
    lines = store.journal_path.read_bytes().split(b"\n")
    lines[1] = lines[1][:10] + b"\x00\x00" + lines[1][12:]
    store.journal_path.write_bytes(b"\n".join(lines))
    with pytest.raises(StateCorruptError, match=r"journal line 2 \(offset \d+\)"):
        await store.read_journal()
    with pytest.raises(StateCorruptError):
        await store.load_state()
    await store.close()


async def test_files_are_private_and_the_directory_is_configurable(state_dir: Path) -> None:
    store = durable_store("json", state_dir / "nested")
    await store.open()
    await store.save_state(RiskState())
    await store.append_journal(record(1))
    from ml4t_live_core.protocols import TradingStateRecord
    from ml4t_live_core.risk import TradingState

    await store.write_trading_state(TradingStateRecord(TradingState.HALTED, "x", T0))
    for name in ("state.json", "journal.jsonl", "trading_state.json"):
        assert stat.S_IMODE((state_dir / "nested" / name).stat().st_mode) == 0o600
    assert not list((state_dir / "nested").glob(".*.tmp"))  # no temp file left behind
    await store.close()


async def test_relative_directory_resolves_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml4t_live_state_json import JsonStateStore

    monkeypatch.chdir(tmp_path)
    store = JsonStateStore()
    assert store.location == str(tmp_path / ".ml4t-live")
