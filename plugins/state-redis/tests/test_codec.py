"""Stream payloads are the core's journal JSON, and parse back to the same record."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from ml4t_live_state_redis.codec import decode_journal_entry, journal_fields

from ml4t_live_core.state import JournalEvent, JournalRecord, encode_record

finite = st.floats(allow_nan=False, allow_infinity=False) | st.none()
text = st.text(max_size=20)
records = st.builds(
    JournalRecord,
    timestamp=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    event=st.sampled_from(JournalEvent),
    client_order_id=st.none() | st.from_regex(r"[a-z.]{1,8}-[0-9]{8}", fullmatch=True),
    asset=st.none() | text,
    side=st.none() | st.sampled_from(["buy", "sell"]),
    quantity=finite,
    order_type=st.none() | text,
    limit_price=finite,
    stop_price=finite,
    fill_price=finite,
    filled_quantity=finite,
    reasons=st.lists(text, max_size=3).map(tuple),
    shadow=st.booleans(),
    detail=st.dictionaries(
        text, st.integers() | text | st.lists(st.integers(), max_size=3), max_size=3
    ),
)


@given(records)
def test_payload_is_the_core_journal_json_and_round_trips(record: JournalRecord) -> None:
    payload = journal_fields(record)
    assert json.loads(payload) == json.loads(encode_record(record))
    assert decode_journal_entry({b"v": b"1", b"record": payload}) == record


def test_timezone_offsets_survive() -> None:
    stamp = datetime(2024, 1, 2, 9, 30, tzinfo=UTC) + timedelta(microseconds=7)
    record = JournalRecord(stamp, JournalEvent.FILLED, fill_price=math.pi)
    assert decode_journal_entry({b"v": b"1", b"record": journal_fields(record)}) == record
