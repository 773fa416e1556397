"""The `daily-loss` check: halts (or reduces) trading when today's loss passes a limit."""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext, TradingState
from ml4t_live_core.state import RiskState

NAME = "daily-loss"
log = logging.getLogger("ml4t_live.risk.daily_loss")

#: Key in `RiskState.extra`: the trading day whose loss tripped the check, and the equity at
#: which a person resumed trading that day (persisted with the risk state).
STATE_KEY = "daily-loss"
_ACTIONS = {"halt": TradingState.HALTED, "reduce": TradingState.REDUCING}


class DailyLossConfig(PluginConfig):
    """Settings of [risk.daily-loss] (off unless a limit is set: limits depend on account size).

    max_loss: the largest fall of equity below the start-of-day equity, in account currency.
    max_pct: the same, in percent of the start-of-day equity. Either limit trips the check.
    action: "halt" (default) or "reduce" (only orders that shrink positions).

    Start-of-day equity is taken by the core at the first bar of each trading day (the calendar
    day in `runtime.timezone`, the exchange's zone) and persisted in the risk state, so a restart
    during the day keeps it. Beyond a limit the check moves trading to `action` on the next bar
    and rejects what the kill switch rejects in that state (for "halt" all but closes that
    reduce a position, for "reduce" orders that do not shrink one). The
    state persists, also into the next day, until a person resumes; after a resume the loss is
    measured from the equity at resumption for the rest of that day.
    """

    max_loss: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_pct: float | None = Field(default=None, gt=0, lt=100, allow_inf_nan=False)
    action: Literal["halt", "reduce"] = "halt"


class DailyLossCheck:
    """Watches equity against the persisted start-of-day equity; O(1) per bar and per order."""

    name = NAME

    def __init__(self, config: DailyLossConfig | None = None):
        self.config = config or DailyLossConfig()
        self.target = _ACTIONS[self.config.action]
        self.enabled = self.config.max_loss is not None or self.config.max_pct is not None

    @hookimpl
    def ml4t_live_on_bar(
        self, timestamp: datetime, data: dict[str, dict[str, Any]], context: RiskContext
    ) -> None:
        if not self.enabled:
            return
        state = context.risk_state
        mark = _mark(state)
        if mark is None:
            state.extra.pop(STATE_KEY, None)  # a new day forgets yesterday's trip record
        breach = self.breach(context)
        less_strict = context.trading_state.severity < self.target.severity
        if mark is not None and "resumed_at" not in mark and less_strict:
            mark["resumed_at"] = context.equity()
            log.warning(
                "daily-loss: trading was resumed by hand after a %s; measuring from "
                "equity %.2f for the rest of the day",
                self.target.value,
                mark["resumed_at"],
            )
            return
        if breach is not None and less_strict:
            assert state.trading_day is not None  # breach() needs a start-of-day equity
            state.extra[STATE_KEY] = {
                "day": state.trading_day.isoformat(),
                "tripped_equity": context.equity(),
            }
            context.set_trading_state(self.target, f"{NAME}: {breach}")

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        if not self.enabled:
            return None
        breach = self.breach(context)
        if breach is None or self.target.allows(order):
            return None
        return Rejection(NAME, breach)

    def breach(self, context: RiskContext) -> str | None:
        """Why today's loss exceeds a limit now (with the numbers), or None."""
        state = context.risk_state
        start = state.start_of_day_equity
        if not self.enabled or start is None or not start > 0 or state.trading_day is None:
            return None
        mark = _mark(state)
        reference = min(start, mark["resumed_at"]) if mark and "resumed_at" in mark else start
        base = "start-of-day equity" if reference == start else "equity at resumption"
        equity = context.equity()
        if not math.isfinite(equity):  # a NaN compares False with every limit: fail closed
            return f"equity is {equity} on {state.trading_day}; the loss cannot be measured"
        loss = reference - equity
        max_loss, max_pct = self.config.max_loss, self.config.max_pct
        if max_loss is not None and loss > max_loss:
            return (
                f"loss {loss:,.2f} on {state.trading_day} exceeds max {max_loss:,.2f} "
                f"(equity {equity:,.2f}, {base} {reference:,.2f})"
            )
        pct = loss / reference * 100.0
        if max_pct is not None and pct > max_pct:
            return (
                f"loss {pct:.2f}% on {state.trading_day} exceeds max {max_pct:.2f}% "
                f"(equity {equity:,.2f}, {base} {reference:,.2f})"
            )
        return None


def _mark(state: RiskState) -> dict[str, Any] | None:
    """The persisted trip record, if it belongs to the current trading day."""
    mark = state.extra.get(STATE_KEY)
    if (
        isinstance(mark, dict)
        and state.trading_day is not None
        and mark.get("day") == state.trading_day.isoformat()
    ):
        resumed = mark.get("resumed_at")
        if resumed is None or isinstance(resumed, int | float) and resumed > 0:
            return mark
    return None

