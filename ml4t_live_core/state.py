"""Persisted risk state and order-journal records, and their (de)serialisation."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from ml4t_live_core.risk import TradingState

STATE_SCHEMA_VERSION = 1

#: Upgrades of a stored state dict, keyed by the version they upgrade FROM (to version + 1).
#: Add an entry here when `RiskState` changes shape; a version newer than this runtime knows,
#: or one with no path to the current version, is refused (never guessed at).
StateMigration = Callable[[dict[str, Any]], dict[str, Any]]
MIGRATIONS: dict[int, StateMigration] = {}


class StateSchemaError(ValueError):
    """A stored state or journal record does not match the schema this runtime reads."""


@dataclass(slots=True)
class RiskState:
    """Everything the safety layer must remember across restarts."""

    schema_version: int = STATE_SCHEMA_VERSION
    trading_day: date | None = None
    start_of_day_equity: float | None = None
    high_water_mark: float | None = None
    orders_today: int = 0
    orders_total: int = 0
    trading_state: TradingState = TradingState.ACTIVE
    trading_state_reason: str = ""
    trading_state_since: datetime | None = None
    next_client_order_seq: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> RiskState:
        return replace(self, extra=dict(self.extra))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["trading_day"] = self.trading_day.isoformat() if self.trading_day else None
        data["trading_state"] = self.trading_state.value
        data["trading_state_since"] = (
            self.trading_state_since.isoformat() if self.trading_state_since else None
        )
        return data

    @classmethod
    def from_dict(cls, data: Any) -> RiskState:
        """Parse a stored dict strictly; anything unexpected is a `StateSchemaError`."""
        data = migrate_state_dict(data)
        version = data["schema_version"]
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise StateSchemaError(f"unknown fields {sorted(unknown)}")
        try:
            state = cls(
                schema_version=version,
                trading_day=_opt(date.fromisoformat, data.get("trading_day")),
                start_of_day_equity=_opt_float(data.get("start_of_day_equity")),
                high_water_mark=_opt_float(data.get("high_water_mark")),
                orders_today=_int(data.get("orders_today", 0)),
                orders_total=_int(data.get("orders_total", 0)),
                trading_state=TradingState(data.get("trading_state", "active")),
                trading_state_reason=str(data.get("trading_state_reason", "")),
                trading_state_since=_opt(datetime.fromisoformat, data.get("trading_state_since")),
                next_client_order_seq=_int(data.get("next_client_order_seq", 1)),
                extra=dict(data.get("extra") or {}),
            )
        except (TypeError, ValueError) as exc:
            raise StateSchemaError(str(exc)) from exc
        if state.next_client_order_seq < 1:
            raise StateSchemaError("next_client_order_seq must be >= 1")
        return state


def migrate_state_dict(
    data: Any,
    migrations: Mapping[int, StateMigration] = MIGRATIONS,
    current: int = STATE_SCHEMA_VERSION,
) -> dict[str, Any]:
    """Bring a stored state dict up to `current` through `migrations`; refuse what cannot be."""
    if not isinstance(data, dict):
        raise StateSchemaError(f"state must be an object, got {type(data).__name__}")
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise StateSchemaError(f"schema_version {version!r} is not an integer")
    if version > current:
        raise StateSchemaError(
            f"schema_version {version} is newer than this runtime reads ({current}); "
            "upgrade ml4t-live"
        )
    while version < current:
        step = migrations.get(version)
        if step is None:
            raise StateSchemaError(f"schema_version {version} has no migration to {version + 1}")
        data = step(dict(data))
        if data.get("schema_version") != version + 1:
            raise StateSchemaError(
                f"migration from schema_version {version} did not produce {version + 1}"
            )
        version += 1
    return data


def encode_state(state: RiskState) -> bytes:
    """The canonical JSON bytes of a state (what durable backends store)."""
    return json.dumps(state.to_dict(), sort_keys=True, default=str).encode()


def decode_state(raw: bytes | str) -> RiskState:
    """Parse stored state bytes strictly (`StateSchemaError` on anything unexpected)."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateSchemaError(f"not valid JSON: {exc}") from None
    return RiskState.from_dict(data)


class JournalEvent(StrEnum):
    """Every decision the runtime takes about an order."""

    SUBMITTED = "submitted"
    REJECTED = "rejected"
    ACKNOWLEDGED = "acknowledged"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    MODIFIED = "modified"
    TRADING_STATE = "trading_state"
    #: Not a decision: an equity mark (detail: equity, cash, gross/net exposure), journaled as
    #: bars arrive so reports and `status` can draw the session without the runtime.
    MARK = "mark"


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One append-only journal line; `reasons` lists every check that objected."""

    timestamp: datetime
    event: JournalEvent
    client_order_id: str | None = None
    asset: str | None = None
    side: str | None = None
    quantity: float | None = None
    order_type: str | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    fill_price: float | None = None
    filled_quantity: float | None = None
    reasons: tuple[str, ...] = ()
    shadow: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = self._plain()
        data["detail"] = copy.deepcopy(self.detail)  # like asdict: the caller may mutate it
        return data

    def _plain(self) -> dict[str, Any]:
        """The JSON-ready fields, sharing `detail` (no deep copy: the order path encodes every
        record, and `asdict`'s copying was most of that cost)."""
        data = {name: getattr(self, name) for name in _RECORD_FIELDS}
        data["timestamp"] = self.timestamp.isoformat()
        data["event"] = self.event.value
        data["reasons"] = list(self.reasons)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> JournalRecord:
        if not isinstance(data, dict):
            raise StateSchemaError(f"journal record must be an object, got {type(data).__name__}")
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise StateSchemaError(f"unknown journal fields {sorted(unknown)}")
        try:
            return cls(
                **{
                    **data,
                    "timestamp": datetime.fromisoformat(data["timestamp"]),
                    "event": JournalEvent(data["event"]),
                    "reasons": tuple(data.get("reasons") or ()),
                    "detail": dict(data.get("detail") or {}),
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateSchemaError(f"bad journal record: {exc}") from exc


_RECORD_FIELDS = tuple(f.name for f in fields(JournalRecord))
#: `json.dumps` with options builds a new encoder per call; this one is reused.
_RECORD_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def encode_record(record: JournalRecord) -> bytes:
    """One journal record as a single line of JSON (no newline inside, by construction)."""
    return _RECORD_ENCODER.encode(record._plain()).encode()


def decode_record(raw: bytes | str) -> JournalRecord:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateSchemaError(f"journal record is not valid JSON: {exc}") from None
    return JournalRecord.from_dict(data)


def journal_seq(client_order_id: str | None) -> int | None:
    """The sequence inside any `<prefix>-<digits>` id, whatever the prefix, else None.

    Stores take the maximum over every prefix: a gap in one strategy's ids is harmless,
    a reused id is not.
    """
    if not client_order_id:
        return None
    _, sep, tail = client_order_id.rpartition("-")
    return int(tail) if sep and tail.isdigit() else None


def state_after_journal(state: RiskState | None, max_seq: int | None) -> RiskState | None:
    """`state` with `next_client_order_seq` past every id in the journal (the state may lag it,
    because the order path appends to the journal and does not rewrite the state per order)."""
    if max_seq is None:
        return state
    state = state if state is not None else RiskState()
    if state.next_client_order_seq <= max_seq:
        state.next_client_order_seq = max_seq + 1
    return state


def counters_after_journal(
    state: RiskState, records: Sequence[JournalRecord], prefix: str,
    day_of: Callable[[datetime], date],
) -> int:
    """Raise `state`'s order counters to the orders `prefix` journaled on its trading day; the
    number added. They are saved with the state, not per order, so a crash can lose the last
    increments; the journal, written before every order, has them all."""
    day = state.trading_day
    if day is None:
        return 0
    counted = sum(
        1
        for r in records
        if r.event is JournalEvent.SUBMITTED
        and r.client_order_id is not None
        and client_order_seq(r.client_order_id, prefix) is not None
        and day_of(r.timestamp) == day
    )
    missing = max(0, counted - state.orders_today)
    state.orders_today += missing
    state.orders_total += missing
    return missing


def client_order_seq(client_order_id: str, prefix: str) -> int | None:
    """The sequence number inside an id made by `format_client_order_id`, else None."""
    head, sep, tail = client_order_id.rpartition("-")
    if not sep or head != prefix or not tail.isdigit():
        return None
    return int(tail)


def format_client_order_id(prefix: str, seq: int) -> str:
    return f"{prefix}-{seq:08d}"


def _opt(parse, value):
    return None if value is None else parse(value)


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StateSchemaError(f"expected a finite number, got {value!r}")
    return float(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StateSchemaError(f"expected an integer, got {value!r}")
    return value


RESET_REASON = (
    "state was reset with `ml4t-live state reset`; "
    "resume on purpose with `ml4t-live resume --confirm`"
)


def state_after_reset(max_seq: int | None, now: datetime) -> RiskState:
    """The state a reset leaves: HALTED until a person resumes, ids never reused."""
    state = RiskState(
        trading_state=TradingState.HALTED,
        trading_state_reason=RESET_REASON,
        trading_state_since=now,
    )
    state_after_journal(state, max_seq)
    return state


_SALVAGE_PATTERNS = (
    re.compile(rb'"client_order_id"\s*:\s*"[^"\n]*?-(\d{1,18})"'),
    re.compile(rb'"next_client_order_seq"\s*:\s*(\d{1,18})'),
)


def salvage_max_seq(raw: bytes) -> int | None:
    """Best-effort highest sequence mentioned in damaged bytes, so a reset never reuses an id
    that a corrupt state or journal may still hold (`next_client_order_seq` counts as n - 1)."""
    found = [int(m) for m in _SALVAGE_PATTERNS[0].findall(raw)]
    found += [int(m) - 1 for m in _SALVAGE_PATTERNS[1].findall(raw)]
    return max(found, default=None)
