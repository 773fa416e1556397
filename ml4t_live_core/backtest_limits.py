"""Live risk limits in a backtest: the installed risk checks as one ml4t-backtest TradingControl.

Backtest with exactly the limits you will trade with, and see how often each would have fired::

    limits = LiveLimits.from_config("live.toml")
    result = run_backtest(prices, limits.wrap(MyStrategy()))
    limits.counts          # Counter({"order-size": 3, "kill-switch": 12})

`wrap` attaches the limits in `on_start`, runs the checks' bar and fill hooks before each
`on_data` (so drawdown, daily-loss and stale-data see the backtest's equity and bars), and by
default turns a limit rejection into a skipped order, as live reports it like a broker-side
rejection: one rejected order never aborts the rest of a rebalance. `wrap(..., raise_on_rejection
=True)` lets the `LimitViolation` (a `TradingControlViolation`) reach the strategy instead.

What a backtest control cannot see, and how it is read here: the order type and limit price
(every order is checked as a market order at the current price), and whether the order came
from `close_position` (an order that exactly flattens an existing position counts as a close).
An order that passes every check counts as accepted (duplicate and rate-limit windows), even if
the backtest broker rejects it later for cash. Orders the backtest engine places by itself
outside the strategy's callbacks (position-rule exits such as `StopLoss`, a backtest-only
feature with no live counterpart) are checked and counted but let through, marked
`enforced=False`: raising there would abort the whole backtest.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from numbers import Real
from pathlib import Path
from typing import Any

from ml4t.backtest import OrderSide, OrderType, Strategy
from ml4t.backtest.controls import OrderControlContext, TradingControlViolation

from ml4t_live_core.backtest_context import BacktestRiskContext, aware
from ml4t_live_core.compose import load_config
from ml4t_live_core.config import LiveConfig
from ml4t_live_core.plugins import Kind, Plugins, new_plugin_manager
from ml4t_live_core.portfolio import QUANTITY_EPSILON, shrinks_position
from ml4t_live_core.risk import OrderRequest, Rejection


class LimitViolation(TradingControlViolation):
    """Live risk checks rejected a backtest order; `rejections` lists every check that objected."""

    def __init__(self, asset: str, rejections: list[Rejection]):
        self.asset = asset
        self.rejections = rejections
        super().__init__(f"{asset}: " + "; ".join(map(str, rejections)))


@dataclass(frozen=True, slots=True)
class LimitRejection:
    """One backtest order the live limits rejected."""

    timestamp: datetime | None
    asset: str
    quantity: float
    reasons: tuple[str, ...]
    #: False for an order the backtest engine placed outside the strategy's callbacks.
    enforced: bool = True


class LiveLimits:
    """Every installed (and enabled) risk check, as one ml4t-backtest `TradingControl`."""

    def __init__(
        self, checks: Mapping[str, object], *, timezone: str = "America/New_York",
        trading_day_starts: time = time(),
    ):
        if not checks:
            raise ValueError(
                "LiveLimits needs at least one risk check (none installed or enabled?)"
            )
        self.pm = new_plugin_manager()
        for name, check in checks.items():
            self.pm.register(check, name=f"risk-check:{name}")
        self.checks = dict(checks)
        self.context = BacktestRiskContext(
            timezone=timezone, trading_day_starts=trading_day_starts
        )
        self.counts: Counter[str] = Counter()
        self.rejections: list[LimitRejection] = []
        self.checked = 0
        self.accepted = 0
        self._seq = 0
        #: Set by `LimitedStrategy` while the strategy's own callbacks run.
        self.wrapped = False
        self.in_callback = False

    @classmethod
    def from_config(
        cls,
        path: str | Path | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        extra_plugins: Iterable[tuple[object, str]] = (),
    ) -> LiveLimits:
        """The checks and limits a live run with this config file would use."""
        cfg, plugins = load_config(path, overrides=overrides, extra_plugins=extra_plugins)
        return cls.from_live_config(cfg, plugins)

    @classmethod
    def from_live_config(cls, cfg: LiveConfig, plugins: Plugins) -> LiveLimits:
        checks = {
            reg.name: reg.factory(cfg.risk[reg.name])
            for reg in plugins.registry.all(Kind.RISK_CHECK)
        }
        return cls(
            checks, timezone=cfg.runtime.timezone,
            trading_day_starts=cfg.runtime.trading_day_starts,
        )

    # --- wiring -------------------------------------------------------------------------------
    def attach(self, broker: Any) -> None:
        """Register with a backtest `Broker` (orders only; `wrap` also feeds bars and fills)."""
        self.context.bind(broker)
        broker.register_trading_control(self)

    def wrap(self, strategy: Strategy, *, raise_on_rejection: bool = False) -> Strategy:
        """`strategy`, unchanged, running behind these limits in `run_backtest`."""
        return LimitedStrategy(strategy, self, raise_on_rejection=raise_on_rejection)

    def on_bar(self, timestamp: datetime, data: dict[str, dict[str, Any]]) -> None:
        """Mark the bar and run the checks' fill and bar hooks, as the live runtime does."""
        context = self.context
        for fill in context.new_fills():
            self.pm.hook.ml4t_live_on_fill(fill=fill, context=context)
        context.mark_bar(timestamp, data)
        self.pm.hook.ml4t_live_on_bar(timestamp=context.now, data=data, context=context)

    # --- TradingControl -----------------------------------------------------------------------
    def validate(self, request: OrderControlContext) -> None:
        """Run every check on the order; raise `LimitViolation` naming all that object."""
        signed = request.quantity
        if not isinstance(signed, Real) or not math.isfinite(signed) or signed == 0:
            return  # the backtest broker rejects or skips these itself, before any fill
        order = self._order_request(request)
        self.checked += 1
        context = self.context
        context.begin_order(request)
        try:
            rejections = [
                r for r in self.pm.hook.ml4t_live_check_order(order=order, context=context) if r
            ]
            if not rejections:
                self.accepted += 1
                context.risk_state.orders_today += 1
                context.risk_state.orders_total += 1
                self.pm.hook.ml4t_live_on_order_accepted(order=order, context=context)
                return
        finally:
            context.end_order()
        self.counts.update({r.check for r in rejections})
        enforced = self.in_callback or not self.wrapped
        self.rejections.append(
            LimitRejection(
                order.timestamp, order.asset, signed, tuple(map(str, rejections)), enforced
            )
        )
        if enforced:
            raise LimitViolation(order.asset, rejections)

    def _order_request(self, request: OrderControlContext) -> OrderRequest:
        signed = float(request.quantity)
        side = OrderSide.BUY if signed > 0 else OrderSide.SELL
        quantity = abs(signed)
        held = float(request.position_quantity)
        # Orders already working on the same side shrink the position too: together they must
        # not flip it (as SafeBroker counts them live).
        working = (
            request.pending_buy_quantity if side is OrderSide.BUY else request.pending_sell_quantity
        )
        reduces = shrinks_position(held, signed, working)
        self._seq += 1
        timestamp = aware(request.timestamp) if request.timestamp is not None else self.context.now
        return OrderRequest(
            asset=request.asset,
            side=side,
            quantity=quantity,
            order_type=OrderType.MARKET,
            timestamp=timestamp,
            client_order_id=f"backtest-{self._seq:08d}",
            position_quantity=held,
            reduces_position=reduces,
            is_close=reduces and abs(quantity - abs(held)) <= QUANTITY_EPSILON,
            is_update=request.is_update,
        )

    def summary(self) -> dict[str, Any]:
        """Orders checked, accepted and rejected, rejections by check, trading-state changes."""
        return {
            "checked": self.checked,
            "accepted": self.accepted,
            "rejected": len(self.rejections),
            "not_enforced": sum(not r.enforced for r in self.rejections),
            "by_check": dict(self.counts),
            "trading_states": [(t.isoformat(), s.value, r) for t, s, r in self.context.transitions],
        }


class LimitedStrategy(Strategy):
    """A strategy running behind `LiveLimits` in `run_backtest` (built by `LiveLimits.wrap`)."""

    def __init__(self, inner: Strategy, limits: LiveLimits, *, raise_on_rejection: bool = False):
        self.inner = inner
        self.limits = limits
        self.raise_on_rejection = raise_on_rejection
        limits.wrapped = True

    @contextlib.contextmanager
    def _callback(self) -> Iterator[None]:
        self.limits.in_callback = True
        try:
            yield
        finally:
            self.limits.in_callback = False

    def _view(self, broker: Any) -> Any:
        return broker if self.raise_on_rejection else RejectionsAsSkips(broker)

    def on_start(self, broker: Any) -> None:
        self.limits.attach(broker)
        with self._callback():
            self.inner.on_start(self._view(broker))

    def on_prepare(self, broker: Any, config: Any | None = None) -> None:
        with self._callback():
            return self.inner.on_prepare(self._view(broker), config)

    def on_data(
        self, timestamp: datetime, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        self.limits.on_bar(timestamp, data)
        with self._callback():
            self.inner.on_data(timestamp, data, context, self._view(broker))

    def on_end(self, broker: Any) -> None:
        with self._callback():
            self.inner.on_end(self._view(broker))

    def _validate_completed_run(self) -> None:
        self.inner._validate_completed_run()

    def __getattr__(self, name: str) -> Any:
        # Strategy attributes the user reads after the run (indicators, records) stay reachable.
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


class RejectionsAsSkips:
    """The backtest broker, except that a call stopped by `LiveLimits` returns None instead of
    raising (the rejection is already counted): what live does with a risk rejection."""

    def __init__(self, broker: Any):
        object.__setattr__(self, "_broker", broker)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._broker, name)
        if not callable(value):
            return value
        return _skipping(value)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._broker, name, value)


def _skipping(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except LimitViolation:
            return None

    return call
