"""A cash-and-positions ledger with weighted cost basis, partial closes and flips.

Used by the shadow portfolio, by the simulated broker, and as the runtime's mirror of a real
broker's account. Holdings are immutable and the holdings map is replaced on every change
(copy-on-write), so another thread can read a published map without locks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: risk plugins and `status` read QUANTITY_EPSILON only
    from ml4t.backtest import Fill, Position


@dataclass(frozen=True, slots=True)
class Holding:
    """One open position: signed quantity and weighted average entry price."""

    asset: str
    quantity: float
    entry_price: float
    entry_time: datetime
    multiplier: float = 1.0
    entry_commission: float = 0.0

    def to_position(self, price: float | None) -> Position:
        """An ml4t-backtest `Position` marked at `price` (a fresh object the caller may keep)."""
        from ml4t.backtest import Position

        return Position(
            asset=self.asset,
            quantity=self.quantity,
            entry_price=self.entry_price,
            entry_time=self.entry_time,
            current_price=price if price is not None else self.entry_price,
            multiplier=self.multiplier,
            entry_commission=self.entry_commission,
        )


#: Quantities closer to zero than this are treated as flat (float residue of partial closes).
QUANTITY_EPSILON = 1e-9


def shrinks_position(held: float, signed_quantity: float, working: float) -> bool:
    """Whether an order of `signed_quantity`, with `working` more on the way beside it, can only
    shrink the position `held`, never flip it (what REDUCING lets through)."""
    return (
        held * signed_quantity < 0
        and abs(signed_quantity) + working <= abs(held) + QUANTITY_EPSILON
    )


class Portfolio:
    """Cash plus holdings; `apply_fill` is the only way positions change."""

    def __init__(self, cash: float = 0.0, holdings: Mapping[str, Holding] | None = None):
        if not math.isfinite(cash):
            raise ValueError(f"initial cash must be finite, got {cash!r}")
        self.cash = float(cash)
        self.holdings: dict[str, Holding] = dict(holdings or {})
        self.realized_pnl = 0.0
        self.commissions = 0.0

    def quantity(self, asset: str) -> float:
        holding = self.holdings.get(asset)
        return holding.quantity if holding else 0.0

    def apply_fill(self, fill: Fill, multiplier: float = 1.0) -> Holding | None:
        """Book a fill: move cash, update or close or flip the holding. Returns the new holding."""
        from ml4t.backtest import OrderSide

        signed = fill.quantity if fill.side is OrderSide.BUY else -fill.quantity
        self.cash -= signed * fill.price * multiplier + fill.commission
        self.commissions += fill.commission
        old = self.holdings.get(fill.asset)
        new_holding: Holding | None
        if old is None:
            new_holding = Holding(
                fill.asset, signed, fill.price, fill.timestamp, multiplier, fill.commission
            )
        else:
            total = old.quantity + signed
            if old.quantity * signed > 0:  # adding to the same side: weighted average cost
                entry = (old.quantity * old.entry_price + signed * fill.price) / total
                new_holding = replace(
                    old,
                    quantity=total,
                    entry_price=entry,
                    entry_commission=old.entry_commission + fill.commission,
                )
            else:
                closed = min(abs(signed), abs(old.quantity))
                direction = 1.0 if old.quantity > 0 else -1.0
                self.realized_pnl += (
                    (fill.price - old.entry_price) * closed * direction * old.multiplier
                )
                if abs(total) <= QUANTITY_EPSILON:
                    new_holding = None
                elif total * old.quantity > 0:  # partial close keeps the cost basis
                    new_holding = replace(old, quantity=total)
                else:  # flip: the remainder opens at the fill price
                    new_holding = Holding(
                        fill.asset, total, fill.price, fill.timestamp, multiplier, 0.0
                    )
        holdings = dict(self.holdings)
        if new_holding is None:
            holdings.pop(fill.asset, None)
        else:
            holdings[fill.asset] = new_holding
        self.holdings = holdings
        return new_holding

    def market_value(self, prices: Mapping[str, float]) -> float:
        return sum(
            h.quantity * prices.get(a, h.entry_price) * h.multiplier
            for a, h in self.holdings.items()
        )

    def gross_exposure(self, prices: Mapping[str, float]) -> float:
        return sum(
            abs(h.quantity) * prices.get(a, h.entry_price) * h.multiplier
            for a, h in self.holdings.items()
        )

    def equity(self, prices: Mapping[str, float]) -> float:
        return self.cash + self.market_value(prices)

    def replace_holdings(self, positions: Mapping[str, Position]) -> None:
        """Adopt a broker's positions (start-up sync, reconciliation)."""
        self.holdings = {
            asset: Holding(
                asset, p.quantity, p.entry_price, p.entry_time, p.multiplier, p.entry_commission
            )
            for asset, p in positions.items()
            if abs(p.quantity) > QUANTITY_EPSILON
        }
