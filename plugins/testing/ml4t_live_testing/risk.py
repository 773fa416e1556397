"""A real `RiskContext` (a SafeBroker over an in-process venue) for testing risk checks.

Check authors call `check.ml4t_live_check_order(order=request, context=context)` directly on
objects built here: the context is the same class the runtime uses, not a mock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from ml4t.backtest import Order, OrderSide, OrderType, Position

from ml4t_live_core.clock import ManualClock
from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.deferred import Deferred
from ml4t_live_core.plugins import Kind, load_plugins, new_plugin_manager
from ml4t_live_core.protocols import StateStore
from ml4t_live_core.risk import OrderRequest
from ml4t_live_core.safety import SafeBroker
from ml4t_live_core.venue import SimulatedVenue

START = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)


def risk_context(
    *,
    positions: Mapping[str, float] | None = None,
    prices: Mapping[str, float] | None = None,
    cash: float = 100_000.0,
    now: datetime = START,
    bar_times: Mapping[str, datetime] | None = None,
    multipliers: Mapping[str, float] | None = None,
    runtime: RuntimeConfig | None = None,
    store: StateStore | None = None,
) -> SafeBroker:
    """A connected SafeBroker holding `positions` (asset -> signed quantity, entered at the
    asset's price), marked at `prices`, with every price's bar stamped `now` unless
    `bar_times` says otherwise. Its clock is a `ManualClock` (`context.clock.advance(...)`).
    With a `store`, orders are journaled there (open it first)."""
    prices = dict(prices or {})
    clock = ManualClock(now)
    venue = SimulatedVenue(clock=clock, multipliers=dict(multipliers or {}), name="test")
    context = SafeBroker(
        venue,
        hooks=new_plugin_manager().hook,
        runtime=runtime or RuntimeConfig(),
        clock=clock,
        store=store,
    )
    context.ledger.cash = cash
    context.ledger.replace_holdings(
        {
            asset: Position(
                asset=asset,
                quantity=qty,
                entry_price=prices.get(asset, 100.0),
                entry_time=now,
                multiplier=venue.get_multiplier(asset),
            )
            for asset, qty in (positions or {}).items()
        }
    )
    context.prices = prices
    context.bar_times = {asset: now for asset in prices} | dict(bar_times or {})
    context._recompute_exposure()
    context.connected = True
    return context


def order_request(
    context: SafeBroker,
    asset: str,
    quantity: float,
    side: OrderSide | None = None,
    order_type: OrderType = OrderType.MARKET,
    limit_price: float | None = None,
    stop_price: float | None = None,
    trail_amount: float | None = None,
    *,
    is_close: bool = False,
) -> OrderRequest:
    """The `OrderRequest` the runtime would hand the checks for this `submit_order` call
    (validated, normalised, with position and reduces-position filled in)."""
    _, request = context._prepare(
        asset, quantity, side, order_type, limit_price, stop_price, trail_amount, is_close=is_close
    )
    return request


def add_pending(
    context: SafeBroker,
    asset: str,
    quantity: float,
    side: OrderSide,
    order_type: OrderType = OrderType.LIMIT,
    limit_price: float | None = 1.0,
) -> Order:
    """Track a working order as if it had been sent (counts in `pending_quantity`)."""
    order, _ = context._prepare(asset, quantity, side, order_type, limit_price, None, None)
    context._orders[order.order_id] = order
    context._add_pending(order)
    return order


def assert_registered_check(name: str, factory: type, config: type) -> None:
    """The installed plugin `name` registers the risk check `name` with `factory` and its
    `config` schema (call after `load_only(name)`, so only that plugin loads)."""
    registration = load_plugins().registry.get(Kind.RISK_CHECK, name)
    registered = registration.factory
    if isinstance(registered, Deferred):  # imported when built: load it to compare
        registered = registered.load()
    assert registered is factory, f"{name} registers {registration.factory}, not {factory}"
    assert registration.config is config, f"{name} declares {registration.config}, not {config}"
    assert registration.plugin == name
