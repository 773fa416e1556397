"""The `drawdown` check: halts (or reduces) trading when equity falls too far below its peak."""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext, TradingState

NAME = "drawdown"
log = logging.getLogger("ml4t_live.risk.drawdown")

#: Key in `RiskState.extra`: which high-water mark tripped the check, and the equity at which a
#: person resumed trading afterwards (persisted with the risk state, so it survives restarts).
STATE_KEY = "drawdown"
_ACTIONS = {"halt": TradingState.HALTED, "reduce": TradingState.REDUCING}


class DrawdownConfig(PluginConfig):
    """Settings of [risk.drawdown] (off unless max_pct is set: the right limit is per strategy).

    max_pct: the largest fall of equity below the persisted high-water mark, in percent.
        Beyond it the check moves trading to `action` on the next bar and rejects orders
        (for "halt" all but closes that reduce a position, for "reduce" those that do
        not shrink a position), exactly as the kill switch does in that state.
    action: "halt" (default) or "reduce" (only orders that shrink positions).

    The state change persists across restarts until a person resumes trading. From then on the
    drawdown is measured from the equity at resumption until equity makes a new high, so a
    deliberate resume is not undone on the next bar.
    """

    max_pct: float | None = Field(default=None, gt=0, lt=100, allow_inf_nan=False)
    action: Literal["halt", "reduce"] = "halt"


class DrawdownCheck:
    """Watches equity against the high-water mark on every bar; O(1) per bar and per order."""

    name = NAME

    def __init__(self, config: DrawdownConfig | None = None):
        self.config = config or DrawdownConfig()
        self.target = _ACTIONS[self.config.action]

    @hookimpl
    def ml4t_live_on_bar(
        self, timestamp: datetime, data: dict[str, dict[str, Any]], context: RiskContext
    ) -> None:
        if self.config.max_pct is None:
            return
        state = context.risk_state
        mark = _mark(state.extra, state.high_water_mark)
        if mark is None:
            state.extra.pop(STATE_KEY, None)  # a new high-water mark forgets an old trip
        breach = self.breach(context)
        less_strict = context.trading_state.severity < self.target.severity
        if mark is not None and "resumed_at" not in mark and less_strict:
            mark["resumed_at"] = context.equity()
            log.warning(
                "drawdown: trading was resumed by hand after a %s; measuring from equity "
                "%.2f until a new high-water mark",
                self.target.value,
                mark["resumed_at"],
            )
            return
        if breach is not None and less_strict:
            state.extra[STATE_KEY] = {
                "hwm": state.high_water_mark,
                "tripped_equity": context.equity(),
            }
            context.set_trading_state(self.target, f"{NAME}: {breach}")

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        if self.config.max_pct is None:
            return None
        breach = self.breach(context)
        if breach is None or self.target.allows(order):
            return None
        return Rejection(NAME, breach)

    def breach(self, context: RiskContext) -> str | None:
        """Why the drawdown limit is exceeded now (with the numbers), or None."""
        state = context.risk_state
        peak = state.high_water_mark
        if self.config.max_pct is None or peak is None or not peak > 0:
            return None
        mark = _mark(state.extra, peak)
        reference = min(peak, mark["resumed_at"]) if mark and "resumed_at" in mark else peak
        equity = context.equity()
        if not math.isfinite(equity):  # a NaN compares False with every limit: fail closed
            return f"equity is {equity}; the drawdown cannot be measured"
        fall = (reference - equity) / reference * 100.0
        if fall <= self.config.max_pct:
            return None
        base = "high-water mark" if reference == peak else "equity at resumption"
        return (
            f"equity {equity:,.2f} is {fall:.2f}% below the {base} {reference:,.2f} "
            f"(max {self.config.max_pct:.2f}%)"
        )


def _mark(extra: dict[str, Any], peak: float | None) -> dict[str, Any] | None:
    """The persisted trip record, if it belongs to the current high-water mark."""
    mark = extra.get(STATE_KEY)
    if isinstance(mark, dict) and peak is not None and mark.get("hwm") == peak:
        resumed = mark.get("resumed_at")
        if resumed is None or isinstance(resumed, int | float) and resumed > 0:
            return mark
    return None

