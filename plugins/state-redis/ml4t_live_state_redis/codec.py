"""How records are laid out in Redis values and stream entries, parsed strictly.

Every parse failure is a `StateSchemaError`; the store turns it into `StateCorruptError`
naming the key.
"""

from __future__ import annotations

import json
from typing import Any

from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.state import JournalRecord, StateSchemaError, decode_record, encode_record

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


def journal_fields(record: JournalRecord) -> bytes:
    """The record payload of one stream entry (the script adds the version field): the same
    JSON line as the other backends."""
    return encode_record(record)


def decode_journal_entry(fields: dict[bytes, bytes]) -> JournalRecord:
    """One stream entry: exactly {v: 1, record: <json>}, else it is not ours or it is torn."""
    if set(fields) != {b"v", b"record"}:
        names = sorted(f.decode(errors="replace") for f in fields)
        raise StateSchemaError(f"entry has fields {names}, expected ['record', 'v']")
    if fields[b"v"] != JOURNAL_ENTRY_VERSION:
        raise StateSchemaError(f"entry version {fields[b'v']!r} is not {JOURNAL_ENTRY_VERSION!r}")
    return decode_record(fields[b"record"])
