"""Persisted risk state and order-journal records, and their (de)serialisation."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from ml4t_live_core.risk import TradingState

STATE_SCHEMA_VERSION = 1


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
        if not isinstance(data, dict):
            raise StateSchemaError(f"state must be an object, got {type(data).__name__}")
        version = data.get("schema_version")
        if version != STATE_SCHEMA_VERSION:
            raise StateSchemaError(
                f"schema_version {version!r} is not {STATE_SCHEMA_VERSION} (no migration known)"
            )
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
        data = asdict(self)
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
