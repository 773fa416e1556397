"""`RiskLimitError`, apart from the other errors because its base class is ml4t-backtest's:
`ml4t_live_core.errors` re-exports it lazily, so the operational commands skip that import."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ml4t.backtest.controls import TradingControlViolation

if TYPE_CHECKING:
    from ml4t_live_core.risk import Rejection


class RiskLimitError(TradingControlViolation):
    """Live risk checks rejected an order and config asked for rejections to raise.

    Subclasses ml4t-backtest's `TradingControlViolation`, so backtest code that catches
    that error also catches live rejections.
    """

    def __init__(self, asset: str, rejections: Sequence[Rejection]):
        self.asset = asset
        self.rejections = tuple(rejections)
        reasons = "; ".join(f"{r.check}: {r.reason}" for r in self.rejections)
        super().__init__(f"order for {asset!r} rejected by risk checks: {reasons}")

    @property
    def checks(self) -> tuple[str, ...]:
        return tuple(r.check for r in self.rejections)
