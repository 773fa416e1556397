"""What a session report shows, derived from journal records alone (no runtime needed).

Equity and drawdown come from the `mark` records the runtime journals as bars arrive;
positions over time from fills; the order table from each order's sequence of events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ml4t_live_core.state import JournalEvent, JournalRecord

_TERMINAL = {JournalEvent.FILLED, JournalEvent.CANCELLED, JournalEvent.REJECTED}
_FILLS = {JournalEvent.FILLED, JournalEvent.PARTIALLY_FILLED}


@dataclass(slots=True)
class OrderRow:
    """One order as the report's table shows it: what was asked and what became of it."""

    client_order_id: str
    submitted_at: datetime
    asset: str
    side: str
    quantity: float
    order_type: str
    limit_price: float | None
    stop_price: float | None
    status: str = "submitted"
    filled_quantity: float = 0.0
    average_price: float | None = None
    reasons: tuple[str, ...] = ()


@dataclass(slots=True)
class Session:
    """Series and tables for one report."""

    marks: list[tuple[datetime, float]] = field(default_factory=list)
    positions: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    orders: list[OrderRow] = field(default_factory=list)
    rejections_by_check: Counter[str] = field(default_factory=Counter)
    trading_states: list[tuple[datetime, str, str]] = field(default_factory=list)
    shadow: bool = False

    @property
    def drawdown(self) -> list[tuple[datetime, float]]:
        """Fraction below the running peak of equity at each mark (0 at a new high)."""
        peak = float("-inf")
        out = []
        for when, equity in self.marks:
            peak = max(peak, equity)
            out.append((when, equity / peak - 1.0 if peak > 0 else 0.0))
        return out

    @property
    def start(self) -> datetime | None:
        times = [m[0] for m in self.marks] + [o.submitted_at for o in self.orders]
        return min(times) if times else None

    @property
    def end(self) -> datetime | None:
        times = [m[0] for m in self.marks] + [o.submitted_at for o in self.orders]
        return max(times) if times else None


def build_session(records: Iterable[JournalRecord]) -> Session:
    """Fold journal records (oldest first) into a `Session`."""
    session = Session()
    rows: dict[str, OrderRow] = {}
    held: dict[str, float] = {}
    for record in records:
        session.shadow = session.shadow or record.shadow
        event = record.event
        if event is JournalEvent.MARK:
            equity = record.detail.get("equity")
            if isinstance(equity, int | float):
                session.marks.append((record.timestamp, float(equity)))
            continue
        if event is JournalEvent.TRADING_STATE:
            session.trading_states.append(
                (record.timestamp, str(record.detail.get("state", "?")), "; ".join(record.reasons))
            )
            continue
        if record.client_order_id is None:
            continue
        row = rows.get(record.client_order_id)
        if row is None:
            row = OrderRow(
                client_order_id=record.client_order_id, submitted_at=record.timestamp,
                asset=record.asset or "?", side=record.side or "?", quantity=record.quantity or 0.0,
                order_type=record.order_type or "?", limit_price=record.limit_price,
                stop_price=record.stop_price,
            )
            rows[record.client_order_id] = row
            session.orders.append(row)
        if event is JournalEvent.REJECTED:
            row.reasons = record.reasons
            for reason in record.reasons:
                session.rejections_by_check[reason.split(":", 1)[0].strip() or "?"] += 1
        if event in _FILLS and record.filled_quantity and record.fill_price is not None:
            total = row.filled_quantity + record.filled_quantity
            row.average_price = ((row.average_price or 0.0) * row.filled_quantity
                                 + record.fill_price * record.filled_quantity) / total
            row.filled_quantity = total
            signed = record.filled_quantity if row.side == "buy" else -record.filled_quantity
            held[row.asset] = held.get(row.asset, 0.0) + signed
            session.positions.setdefault(row.asset, []).append((record.timestamp, held[row.asset]))
        if event in _TERMINAL or row.status not in {s.value for s in _TERMINAL}:
            row.status = event.value
    return session
