"""A `RiskContext` read from an ml4t-backtest `Broker`, so live risk checks can run in a backtest.

Positions, cash, equity, prices and pending orders come from the backtest broker; time is the
bar time (a naive backtest timestamp is taken as UTC); the risk state (day, start-of-day
equity, high-water mark, trading state) is kept here exactly as the live `SafeBroker` keeps it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime, time
from numbers import Real
from typing import Any
from zoneinfo import ZoneInfo

from ml4t.backtest import Fill, OrderSide
from ml4t.backtest.controls import OrderControlContext

from ml4t_live_core.clock import trading_day
from ml4t_live_core.portfolio import Holding
from ml4t_live_core.risk import TradingState
from ml4t_live_core.safety import default_normalize
from ml4t_live_core.state import RiskState

log = logging.getLogger("ml4t_live.backtest")

_NO_TIME_YET = datetime(1970, 1, 1, tzinfo=UTC)


def aware(timestamp: datetime) -> datetime:
    """Backtest bars are often naive; risk checks compare aware times, so naive means UTC."""
    return timestamp if timestamp.tzinfo is not None else timestamp.replace(tzinfo=UTC)


class BacktestRiskContext:
    """The live `RiskContext` protocol over a backtest broker (bound in `on_start`)."""

    def __init__(self, *, timezone: str = "America/New_York", trading_day_starts: time = time()):
        self._broker: Any = None
        self._tz = ZoneInfo(timezone)
        self._day_starts = trading_day_starts
        self._now = _NO_TIME_YET
        self._request: OrderControlContext | None = None
        self._fills_seen = 0
        self.bar_times: dict[str, datetime] = {}
        self.risk_state = RiskState()
        #: (time, new state, reason) for every trading-state change a check asked for.
        self.transitions: list[tuple[datetime, TradingState, str]] = []

    def bind(self, broker: Any) -> None:
        # Windows, marks and trading state belong to one run: a second one must start afresh.
        if self._broker is not None and self._broker is not broker:
            raise RuntimeError(
                "these LiveLimits already ran in another backtest; "
                "create a new LiveLimits for each run"
            )
        self._broker = broker

    @property
    def broker(self) -> Any:
        if self._broker is None:
            raise RuntimeError(
                "LiveLimits is not attached to a backtest broker; use limits.wrap(strategy)"
            )
        return self._broker

    # --- driven by LiveLimits -------------------------------------------------------------
    def begin_order(self, request: OrderControlContext) -> None:
        """The order being checked: its pending quantities and price answer for its asset."""
        self._request = request
        if request.timestamp is not None:
            self._now = aware(request.timestamp)

    def end_order(self) -> None:
        self._request = None

    def new_fills(self) -> list[Fill]:
        fills = list(self.broker.fills)
        new, self._fills_seen = fills[self._fills_seen :], len(fills)
        return new

    def mark_bar(self, timestamp: datetime, data: Mapping[str, Mapping[str, Any]]) -> None:
        """Stamp the bar's assets, roll the trading day, raise the high-water mark."""
        now = self._now = aware(timestamp)
        for asset, bar in data.items():
            if _price(bar.get("close")) is not None:
                self.bar_times[asset] = now
        equity = self.equity()
        state = self.risk_state
        day = trading_day(now, self._tz, self._day_starts)
        if state.trading_day != day:
            state.trading_day = day
            state.start_of_day_equity = equity
            state.orders_today = 0
        if state.high_water_mark is None or equity > state.high_water_mark:
            state.high_water_mark = equity

    # --- RiskContext ------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self._now

    @property
    def trading_state(self) -> TradingState:
        return self.risk_state.trading_state

    def positions(self) -> Mapping[str, Holding]:
        return {
            asset: Holding(asset, p.quantity, p.entry_price, aware(p.entry_time), p.multiplier)
            for asset, p in self.broker.positions.items()
            if p.quantity != 0
        }

    def position_quantity(self, asset: str) -> float:
        request = self._request
        if request is not None and request.asset == asset:
            return float(request.position_quantity)
        position = self.broker.positions.get(asset)
        return float(position.quantity) if position is not None else 0.0

    def pending_quantity(self, asset: str, side: OrderSide) -> float:
        request = self._request
        if request is not None and request.asset == asset:
            return (
                request.pending_buy_quantity
                if side is OrderSide.BUY
                else request.pending_sell_quantity
            )
        return sum(
            o.quantity - o.filled_quantity
            for o in self.broker.pending_orders
            if o.asset == asset and o.side is side
        )

    def cash(self) -> float:
        return float(self.broker.get_cash())

    def equity(self) -> float:
        return float(self.broker.get_account_value())

    def gross_exposure(self) -> float:
        return sum(abs(value) for value in self._position_values())

    def net_exposure(self) -> float:
        return sum(self._position_values())

    def _position_values(self) -> list[float]:
        values = []
        for asset, p in self.broker.positions.items():
            price = self.last_price(asset)
            values.append(
                p.quantity * (price if price is not None else p.entry_price) * p.multiplier
            )
        return values

    def last_price(self, asset: str) -> float | None:
        request = self._request
        if request is not None and request.asset == asset and _price(request.price) is not None:
            return float(request.price)  # type: ignore[arg-type]
        return _price(self.broker.get_last_price(asset))

    def last_bar_time(self, asset: str) -> datetime | None:
        return self.bar_times.get(asset)

    def multiplier(self, asset: str) -> float:
        request = self._request
        if request is not None and request.asset == asset:
            return float(request.multiplier)
        return float(self.broker.get_multiplier(asset))

    def normalize_asset(self, asset: str) -> str:
        return default_normalize(asset)

    def watch_account_orders(self, seconds: float) -> bool:
        return False  # one simulated account, one process

    def account_orders_within(self, seconds: float) -> int | None:
        return None

    def set_trading_state(self, state: TradingState, reason: str) -> None:
        if state is self.risk_state.trading_state:
            return
        log.warning(
            "backtest: TRADING STATE %s -> %s at %s: %s",
            self.risk_state.trading_state.value,
            state.value,
            self._now.isoformat(),
            reason,
        )
        self.risk_state.trading_state = state
        self.risk_state.trading_state_reason = reason
        self.risk_state.trading_state_since = self._now
        self.transitions.append((self._now, state, reason))


def _price(value: Any) -> float | None:
    """A usable price, or None (never a made-up one)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        return None
    return float(value)
