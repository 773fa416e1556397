"""Reset from a damaged SQLite file; stored records and states round-trip exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import (
    JournalEvent,
    JournalRecord,
    RiskState,
    decode_record,
    decode_state,
    encode_record,
    encode_state,
    salvage_max_seq,
)

from .conftest import durable_store


async def test_reset_of_a_damaged_sqlite_file_moves_it_aside_and_starts_halted(
    state_dir: Path,
) -> None:
    store = durable_store("sqlite", state_dir)
    await store.open()
    await store.append_journal(
        JournalRecord(
            datetime(2024, 1, 2, tzinfo=UTC),
            JournalEvent.SUBMITTED,
            client_order_id="s.a-00000321",
            asset="AAPL",
        )
    )
    await store.close()
    damaged = bytearray(store.path.read_bytes())
    damaged[:16] = b"not a database!!"
    store.path.write_bytes(bytes(damaged))

    fresh = durable_store("sqlite", state_dir)
    kept = await fresh.reset()
    assert kept and Path(kept[0]).read_bytes() == bytes(damaged)  # moved aside, byte for byte
    state = await fresh.load_state()
    assert state is not None and state.trading_state is TradingState.HALTED
    assert state.next_client_order_seq == 322  # salvaged from the damaged bytes: no id reused
    await fresh.close()


def test_salvage_finds_ids_and_sequences_in_damaged_bytes() -> None:
    raw = b'\x00{"client_order_id":"x.y-00000009"}\xff"next_client_order_seq": 15 garbage'
    assert salvage_max_seq(raw) == 14
    assert salvage_max_seq(b"\x00\x01 nothing here") is None


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
text = st.text(max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    record=st.builds(
        JournalRecord,
        timestamp=aware,
        event=st.sampled_from(JournalEvent),
        client_order_id=st.none() | text,
        asset=st.none() | text,
        side=st.none() | st.sampled_from(["buy", "sell"]),
        quantity=st.none() | finite,
        fill_price=st.none() | finite,
        reasons=st.lists(text, max_size=3).map(tuple),
        shadow=st.booleans(),
        detail=st.dictionaries(st.text(max_size=8), st.integers() | text, max_size=3),
    )
)
def test_journal_records_round_trip_as_one_line(record: JournalRecord) -> None:
    line = encode_record(record)
    assert b"\n" not in line  # one record, one line, whatever the text holds
    assert decode_record(line) == record


@settings(max_examples=150, deadline=None)
@given(
    state=st.builds(
        RiskState,
        trading_day=st.none() | st.dates(),
        start_of_day_equity=st.none() | finite,
        high_water_mark=st.none() | finite,
        orders_today=st.integers(0, 10**6),
        orders_total=st.integers(0, 10**9),
        trading_state=st.sampled_from(TradingState),
        trading_state_reason=text,
        trading_state_since=st.none() | aware,
        next_client_order_seq=st.integers(1, 10**12),
    )
)
def test_risk_states_round_trip(state: RiskState) -> None:
    assert decode_state(encode_state(state)) == state
