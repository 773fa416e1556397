"""How records are laid out in Redis values and stream entries, parsed strictly.

Every parse failure is a `StateSchemaError`; the store turns it into `StateCorruptError`
naming the key.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.state import JournalRecord, StateSchemaError, decode_record

TRADING_STATE_SCHEMA_VERSION = 1
JOURNAL_ENTRY_VERSION = b"1"


def encode_trading_state(record: TradingStateRecord) -> bytes:
    data = {"schema_version": TRADING_STATE_SCHEMA_VERSION, **record.to_dict()}
    return json.dumps(data, sort_keys=True).encode()


def decode_trading_state(raw: bytes) -> TradingStateRecord:
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateSchemaError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StateSchemaError(f"trading state must be an object, got {type(data).__name__}")
    version = data.pop("schema_version", None)
    if version != TRADING_STATE_SCHEMA_VERSION:
        raise StateSchemaError(
            f"trading-state schema_version {version!r} is not {TRADING_STATE_SCHEMA_VERSION}"
        )
    return TradingStateRecord.from_dict(data)


_RECORD_FIELDS = tuple(f.name for f in fields(JournalRecord))
#: `json.dumps` with options builds a new encoder per call; this one is reused.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def journal_fields(record: JournalRecord) -> bytes:
    """The record payload of one stream entry (the script adds the version field).

    The same JSON as `ml4t_live_core.state.encode_record`, built from a shallow dict: that
    one goes through `dataclasses.asdict`, whose deep copy costs about 10 us per order here.
    """
    data = {name: getattr(record, name) for name in _RECORD_FIELDS}
    data["timestamp"] = record.timestamp.isoformat()
    data["event"] = record.event.value
    data["reasons"] = list(record.reasons)
    return _ENCODER.encode(data).encode()


def decode_journal_entry(fields: dict[bytes, bytes]) -> JournalRecord:
    """One stream entry: exactly {v: 1, record: <json>}, else it is not ours or it is torn."""
    if set(fields) != {b"v", b"record"}:
        names = sorted(f.decode(errors="replace") for f in fields)
        raise StateSchemaError(f"entry has fields {names}, expected ['record', 'v']")
    if fields[b"v"] != JOURNAL_ENTRY_VERSION:
        raise StateSchemaError(f"entry version {fields[b'v']!r} is not {JOURNAL_ENTRY_VERSION!r}")
    return decode_record(fields[b"record"])
