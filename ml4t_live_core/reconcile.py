"""Start-up reconciliation: what the journal says is open or held, against what the broker says.

Run by `SafeBroker.start` after connecting and before the first bar. Differences are reported
(a typed report, logged at WARNING, kept as `SafeBroker.reconciliation`), never auto-traded
away: an order the broker has and the journal lacks may be a person's manual order, a position
mismatch may be a transfer. The broker's open orders are adopted so the strategy can cancel them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ml4t_live_core.portfolio import QUANTITY_EPSILON
from ml4t_live_core.protocols import BrokerAdapter, StateStore
from ml4t_live_core.state import JournalEvent, JournalRecord

if TYPE_CHECKING:
    from ml4t.backtest import Order

log = logging.getLogger("ml4t_live.reconcile")

_OPENING = {
    JournalEvent.SUBMITTED,
    JournalEvent.ACKNOWLEDGED,
    JournalEvent.MODIFIED,
    JournalEvent.PARTIALLY_FILLED,
}
_TERMINAL = {JournalEvent.FILLED, JournalEvent.CANCELLED, JournalEvent.REJECTED}
_FILLS = {JournalEvent.FILLED, JournalEvent.PARTIALLY_FILLED}


@dataclass(frozen=True, slots=True)
class PositionMismatch:
    asset: str
    journal: float
    broker: float


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    """Differences between the journal and the broker at start-up (empty tuples: they agree)."""

    #: Open at the broker, unknown to the journal (manual orders, or sent by another runtime).
    unknown_at_broker: tuple[str, ...] = ()
    #: Open in the journal (submitted/acknowledged, not terminal), not open at the broker:
    #: filled, cancelled or never received while this runtime was down.
    missing_at_broker: tuple[str, ...] = ()
    #: Net quantities the journal's fills imply, against the broker's (only when it has fills).
    position_mismatches: tuple[PositionMismatch, ...] = ()
    #: The broker's open orders, now tracked by SafeBroker (cancellable by the strategy).
    adopted: tuple[Order, ...] = field(default=(), compare=False)
    positions_checked: bool = False

    @property
    def clean(self) -> bool:
        return not (self.unknown_at_broker or self.missing_at_broker or self.position_mismatches)

    def summary(self) -> str:
        if self.clean:
            return "journal and broker agree"
        parts = []
        if self.unknown_at_broker:
            parts.append(
                f"open at the broker but not in the journal: {', '.join(self.unknown_at_broker)}"
            )
        if self.missing_at_broker:
            parts.append(
                f"open in the journal but not at the broker: {', '.join(self.missing_at_broker)}"
            )
        for m in self.position_mismatches:
            parts.append(f"position {m.asset}: journal {m.journal:g}, broker {m.broker:g}")
        return "; ".join(parts)


def journal_open_orders(records: Iterable[JournalRecord]) -> dict[str, JournalRecord]:
    """Client order ids whose last order event leaves them open, with their first record."""
    open_orders: dict[str, JournalRecord] = {}
    for record in records:
        if record.client_order_id is None or record.shadow:
            continue
        if record.event in _TERMINAL:
            open_orders.pop(record.client_order_id, None)
        elif record.event in _OPENING:
            open_orders.setdefault(record.client_order_id, record)
    return open_orders


def journal_positions(
    records: Iterable[JournalRecord], *, shadow: bool = False
) -> dict[str, float] | None:
    """Net quantity per asset implied by the journal's fills at the broker (or, with `shadow`,
    in the virtual portfolio); None without such fills."""
    positions: dict[str, float] = {}
    seen = False
    for record in records:
        if (
            record.event not in _FILLS
            or record.shadow is not shadow
            or record.filled_quantity is None
            or record.asset is None
        ):
            continue
        seen = True
        sign = -1.0 if (record.side or "").lower() == "sell" else 1.0
        positions[record.asset] = positions.get(record.asset, 0.0) + sign * record.filled_quantity
    return positions if seen else None


def compare(
    records: Sequence[JournalRecord],
    broker_orders: Sequence[Order],
    broker_positions: dict[str, float],
    *,
    adopt: bool = True,
) -> ReconciliationReport:
    """The pure comparison (no I/O): journal records vs the broker's open orders and positions."""
    in_journal = {r.client_order_id for r in records if r.client_order_id and not r.shadow}
    open_in_journal = journal_open_orders(records)
    open_at_broker = {o.order_id: o for o in broker_orders}
    implied = journal_positions(records)
    mismatches: list[PositionMismatch] = []
    if implied is not None:
        for asset in sorted(set(implied) | set(broker_positions)):
            mine, theirs = implied.get(asset, 0.0), broker_positions.get(asset, 0.0)
            if abs(mine - theirs) > QUANTITY_EPSILON:
                mismatches.append(PositionMismatch(asset, mine, theirs))
    return ReconciliationReport(
        unknown_at_broker=tuple(sorted(oid for oid in open_at_broker if oid not in in_journal)),
        missing_at_broker=tuple(
            sorted(oid for oid in open_in_journal if oid not in open_at_broker)
        ),
        position_mismatches=tuple(mismatches),
        adopted=tuple(broker_orders) if adopt else (),
        positions_checked=implied is not None,
    )


async def reconcile(
    store: StateStore,
    broker: BrokerAdapter,
    *,
    shadow: bool,
    records: Sequence[JournalRecord] | None = None,
) -> ReconciliationReport:
    """Read the journal (unless its `records` are given) and the broker's open orders and
    positions; log and return the differences.

    In shadow mode the real broker's orders are reported but not adopted: the strategy's orders
    go to the virtual portfolio and must not be able to cancel real ones.
    """
    if records is None:
        records = await store.read_journal()
    orders = await broker.get_open_orders()
    positions = {asset: p.quantity for asset, p in (await broker.get_positions()).items()}
    report = compare(records, orders, positions, adopt=not shadow)
    if report.clean:
        log.info("reconciliation: %s (%d open orders at the broker)", report.summary(), len(orders))
    else:
        log.warning("reconciliation: %s", report.summary())
    return report
