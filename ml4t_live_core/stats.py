"""Counters the engine keeps while running; printed at the end and read by status tools."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class RuntimeStats:
    bars: int = 0
    bars_skipped: int = 0
    errors: int = 0
    orders_submitted: int = 0
    orders_rejected: int = 0
    fills: int = 0
    disconnects: int = 0
    #: Connections regained after a loss (a reconnect the broker plugin reported).
    reconnects: int = 0
    connected: bool = False
    trading_state: str = "active"
    last_bar_time: datetime | None = None
    last_lag_seconds: float = 0.0
    max_lag_seconds: float = 0.0
    rejections_by_check: dict[str, int] = field(default_factory=dict)
    stop_reason: str = ""
