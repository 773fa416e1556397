"""The read side of `ThreadSafeBrokerWrapper`: positions, orders, fills, cash and prices.

Reads come from state the event loop publishes copy-on-write, so they cost no thread hop
(only `get_orders`/`get_order` hop, to copy the history consistently). 'Current' prices are
the bar the engine announced with `begin_bar`, as in the backtest.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ml4t.backtest import Fill, Order, OrderSide, Position
from ml4t.backtest.config import ExecutionPrice

from ml4t_live_core.safety import SafeBroker


class WrapperReads:
    """Mixin of `ThreadSafeBrokerWrapper`: the backtest `Broker`'s getters, answered live."""

    # Set by `ThreadSafeBrokerWrapper.__init__` and `begin_bar`.
    _safe: SafeBroker
    _getter_timeout: float
    _bar: dict[str, dict[str, Any]]

    if TYPE_CHECKING:  # defined by `ThreadSafeBrokerWrapper`

        def _call(self, coro: Coroutine[Any, Any, Any], timeout: float, what: str) -> Any: ...

    # --- reads (no thread hop) -----------------------------------------------------------
    def get_position(self, asset: str) -> Position | None:
        holding = self._safe.ledger.holdings.get(asset)
        return holding.to_position(self._safe.prices.get(asset)) if holding else None

    def get_positions(self) -> dict[str, Position]:
        prices = self._safe.prices
        return {a: h.to_position(prices.get(a)) for a, h in self._safe.ledger.holdings.items()}

    @property
    def positions(self) -> dict[str, Position]:
        return self.get_positions()

    def get_pending_orders(self, asset: str | None = None) -> list[Order]:
        return [
            copy.copy(o)
            for o in self._safe.pending_view.values()
            if asset is None or o.asset == asset
        ]

    @property
    def pending_orders(self) -> list[Order]:
        return self.get_pending_orders()

    def get_cash(self) -> float:
        return self._safe.ledger.cash

    # The backtest Broker exposes these as properties too; strategies read them directly.
    @property
    def cash(self) -> float:
        return self.get_cash()

    @property
    def orders(self) -> list[Order]:
        return list(self.get_orders())

    @property
    def fills(self) -> list[Fill]:
        return self.get_fills()

    def get_account_value(self) -> float:
        return self._safe.equity()

    def equity(self) -> float:
        return self._safe.equity()

    def get_buying_power(self) -> float:
        return self._safe.ledger.cash if self._safe.shadow else self._safe.buying_power

    def get_rejected_orders(self, asset: str | None = None) -> list[Order]:
        """The most recent `[runtime] history_limit` rejected orders (the journal has them all)."""
        rejected = list(self._safe.rejected)  # one C-level copy: atomic against the loop's append
        return [copy.copy(o) for o in rejected if asset is None or o.asset == asset]

    @property
    def last_rejection_reason(self) -> str | None:
        return self._safe.last_rejection_reason

    def get_fills(self, order_id: str | None = None) -> list[Fill]:
        """The most recent `[runtime] history_limit` fills (the journal has them all)."""
        fills = list(self._safe.fills)
        return [copy.copy(f) for f in fills if order_id is None or f.order_id == order_id]

    def get_orders(
        self, asset: str | None = None, *, pending_only: bool = False
    ) -> tuple[Order, ...]:
        """Every open order plus the most recent `[runtime] history_limit` finished and rejected
        ones, in submission order (rejected-by-check orders last)."""
        if pending_only:
            return tuple(self.get_pending_orders(asset))
        return self._call(self._snapshot_orders(asset), self._getter_timeout, "get_orders")

    def get_order(self, order_id: str) -> Order | None:
        """An open order, or a finished one still in the history; None for an id that has left
        it (or never existed), as the backtest answers for an unknown id."""
        orders = self._call(
            self._snapshot_orders(None, order_id), self._getter_timeout, "get_order"
        )
        return orders[0] if orders else None

    async def _snapshot_orders(
        self, asset: str | None, order_id: str | None = None
    ) -> tuple[Order, ...]:
        orders = self._safe._orders
        if order_id is not None:
            found = orders.get(order_id) or next(
                (o for o in self._safe.rejected if o.order_id == order_id), None
            )
            return (copy.copy(found),) if found else ()
        everything = list(orders.values()) + [
            o for o in self._safe.rejected if o.order_id not in orders
        ]
        return tuple(copy.copy(o) for o in everything if asset is None or o.asset == asset)

    def get_last_price(self, asset: str) -> float | None:
        return self._safe.prices.get(asset)

    def get_multiplier(self, asset: str) -> float:
        return self._safe.venue.get_multiplier(asset)

    def get_price_for_source(
        self,
        source: ExecutionPrice,
        asset: str,
        *,
        side: OrderSide | None = None,
        quantity: float | None = None,
        use_open: bool = False,
    ) -> float | None:
        bar = self._bar.get(asset)
        if bar is None:
            return None
        field = {ExecutionPrice.OPEN: "open", ExecutionPrice.CLOSE: "close"}.get(source, "close")
        if use_open:
            field = "open"
        if (
            source is ExecutionPrice.MID
            and bar.get("high") is not None
            and bar.get("low") is not None
        ):
            return (bar["high"] + bar["low"]) / 2.0
        value = bar.get(field, bar.get("close"))
        return float(value) if value is not None else None

    def _current_price(self, asset: str) -> float | None:
        bar = self._bar.get(asset)
        price = bar.get("close") if bar else None
        if (
            price is None
            or not isinstance(price, int | float)
            or not math.isfinite(price)
            or price <= 0
        ):
            return None
        return float(price)
