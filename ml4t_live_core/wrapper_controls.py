"""Strategy-registered trading controls and completion validators, enforced as in the backtest.

ml4t-backtest lets a strategy register `TradingControl`s (checked before each order, with the
`OrderControlContext` and order counts the backtest broker keeps) and completion validators
(run when the run ends). Live, the controls run on the strategy thread before an order hops
to the loop and the engine runs the validators after `on_end`, so a strategy meets the same
controls in backtest and live.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ml4t.backtest import OrderSide
from ml4t.backtest.controls import OrderControlContext, TradingControl

from ml4t_live_core.safety import SafeBroker


class WrapperControls:
    """Mixin of `ThreadSafeBrokerWrapper`: the backtest broker's control and validator hooks."""

    # Set by `ThreadSafeBrokerWrapper.__init__` and `begin_bar`.
    _safe: SafeBroker
    _controls: list[TradingControl]
    _completion_validators: list[tuple[object, Callable[[int], None]]]
    _bar_time: datetime | None
    _day_counts: dict[Any, int]
    _session_counts: dict[Any, int]
    _request_counts: dict[tuple[int, Any], int]

    if TYPE_CHECKING:  # defined by `WrapperReads`

        def _current_price(self, asset: str) -> float | None: ...

        def get_multiplier(self, asset: str) -> float: ...

    # --- strategy-registered controls (enforced like the backtest) -----------------------
    def register_trading_control(self, control: TradingControl) -> None:
        if not callable(getattr(control, "validate", None)):
            raise TypeError("Trading controls must define validate(request)")
        self._controls.append(control)

    def unregister_trading_control(self, control: TradingControl) -> bool:
        for index, registered in enumerate(self._controls):
            if registered is control:
                del self._controls[index]
                return True
        return False

    def _run_controls(
        self, asset: str, signed_quantity: float, *, replacing: str | None = None
    ) -> OrderControlContext:
        """Build the `OrderControlContext` the backtest would and run every registered control
        (raises `TradingControlViolation`). The session is the trading day in the runtime's
        timezone, the day the risk state rolls on."""
        holding = self._safe.ledger.holdings.get(asset)
        pending = [
            o
            for o in self._safe.pending_view.values()
            if o.asset == asset and o.order_id != replacing
        ]
        stamp = self._bar_time
        local = stamp.astimezone(self._safe._tz) if stamp and stamp.tzinfo else stamp
        session = local.date() if local else None
        day = stamp.date() if stamp else None
        buys = sum(o.quantity - o.filled_quantity for o in pending if o.side is OrderSide.BUY)
        sells = sum(o.quantity - o.filled_quantity for o in pending if o.side is OrderSide.SELL)
        request = OrderControlContext(
            timestamp=stamp,
            asset=asset,
            quantity=signed_quantity,
            position_quantity=holding.quantity if holding else 0.0,
            pending_buy_quantity=buys,
            pending_sell_quantity=sells,
            price=self._current_price(asset),
            multiplier=self.get_multiplier(asset),
            session_date=session,
            orders_in_session=self._session_counts.get(session, 0),
            orders_in_day=self._day_counts.get(day, 0),
            is_update=replacing is not None,
        )
        for control in self._controls:
            if getattr(control, "counts_order_requests", False) and not request.is_update:
                self._validate_counting(control, request)
            else:
                control.validate(request)  # raises TradingControlViolation, as in the backtest
        return request

    def _validate_counting(self, control: TradingControl, request: OrderControlContext) -> None:
        """A request-counting control (`OrderRequestCount`) sees its own count of validated
        requests in its timezone's civil day, advanced once it passes (the backtest's rule)."""
        if request.timestamp is None:
            raise ValueError("Request counts require a simulation timestamp")
        stamp = request.timestamp
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=self._safe._tz)
        key = (id(control), stamp.astimezone(ZoneInfo(getattr(control, "timezone", "UTC"))).date())
        prior = self._request_counts.get(key, 0)
        control.validate(dataclasses.replace(request, orders_in_day=prior))
        self._request_counts = {k: v for k, v in self._request_counts.items() if k[0] != key[0]}
        self._request_counts[key] = prior + 1

    def _commit_counts(self, request: OrderControlContext) -> None:
        if request.session_date is not None:
            self._session_counts = {request.session_date: request.orders_in_session + 1}
        if request.timestamp is not None:
            self._day_counts = {request.timestamp.date(): request.orders_in_day + 1}

    # --- completion validators (TargetWeightExecutor, zipline-style scheduled controls) ---
    def _register_completion_validator(
        self, owner: object, validator: Callable[[int], None]
    ) -> None:
        if all(existing is not owner for existing, _ in self._completion_validators):
            self._completion_validators.append((owner, validator))

    def run_completion_validators(self, bars: int) -> None:
        for _owner, validator in self._completion_validators:
            validator(bars)
