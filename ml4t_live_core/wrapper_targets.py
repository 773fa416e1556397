"""Target and rebalance orders of `ThreadSafeBrokerWrapper`, with ml4t-backtest's arithmetic.

`order_target_percent`, `order_target_value` and `rebalance_to_weights` turn a target into the
order that reaches it, on the current bar's prices, then submit it like any other order (the
controls, the risk checks and the journal all see it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ml4t.backtest import Order, OrderSide, OrderType

from ml4t_live_core.safety import SafeBroker

_MIN_TARGET_DELTA = 0.01  # same "less than a cent: no trade" rule as ml4t-backtest


class WrapperTargets:
    """Mixin of `ThreadSafeBrokerWrapper`: orders that move a position to a target."""

    # Set by `ThreadSafeBrokerWrapper.__init__`.
    _safe: SafeBroker

    if TYPE_CHECKING:  # defined by `ThreadSafeBrokerWrapper` and `WrapperReads`

        def _submit(
            self,
            asset: Any,
            quantity: Any,
            side: Any,
            order_type: Any,
            limit_price: Any,
            stop_price: Any,
            trail_amount: Any,
            *,
            rebalance_id: str | None = None,
            is_close: bool = False,
        ) -> Order: ...

        def _next_rebalance_id(self) -> str: ...

        def _current_price(self, asset: str) -> float | None: ...

        def get_multiplier(self, asset: str) -> float: ...

        def get_account_value(self) -> float: ...

        def get_last_price(self, asset: str) -> float | None: ...

    # --- target helpers (same arithmetic as ml4t-backtest, on live prices) ---------------
    def order_target_percent(
        self,
        asset: str,
        target_percent: float,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
    ) -> Order | None:
        _finite("target_percent", target_percent)
        value = self.get_account_value()
        price = self._current_price(asset)
        if value <= 0 or price is None:
            return None
        return self._to_target_value(asset, value * target_percent, price, order_type, limit_price)

    def order_target_value(
        self,
        asset: str,
        target_value: float,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
    ) -> Order | None:
        _finite("target_value", target_value)
        price = self._current_price(asset)
        if price is None:
            return None
        return self._to_target_value(asset, target_value, price, order_type, limit_price)

    def _to_target_value(
        self,
        asset: str,
        target: float,
        price: float,
        order_type: OrderType,
        limit_price: float | None,
        rebalance_id: str | None = None,
    ) -> Order | None:
        unit = price * self.get_multiplier(asset)
        holding = self._safe.ledger.holdings.get(asset)
        delta = target - (holding.quantity * unit if holding else 0.0)
        if abs(delta) < _MIN_TARGET_DELTA:
            return None
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        return self._submit(
            asset,
            abs(delta) / unit,
            side,
            order_type,
            limit_price,
            None,
            None,
            rebalance_id=rebalance_id,
        )

    def rebalance_to_weights(
        self, target_weights: dict[str, float], order_type: OrderType = OrderType.MARKET
    ) -> list[Order]:
        for asset, weight in target_weights.items():
            _finite(f"weight for {asset!r}", weight)
        value = self.get_account_value()
        if value <= 0:
            return []
        rebalance_id = self._next_rebalance_id()
        sells: list[tuple[str, float, float]] = []
        buys: list[tuple[str, float, float]] = []
        holdings = self._safe.ledger.holdings
        for asset, weight in target_weights.items():
            price = self._current_price(asset)
            if price is None:
                continue
            holding = holdings.get(asset)
            current = holding.quantity * price * self.get_multiplier(asset) if holding else 0.0
            delta = value * weight - current
            if abs(delta) >= _MIN_TARGET_DELTA:
                (sells if delta < 0 else buys).append((asset, value * weight, price))
        for asset, holding in holdings.items():
            if holding.quantity != 0 and asset not in target_weights:
                price = self._current_price(asset) or self.get_last_price(asset)
                if price is not None:
                    sells.append((asset, 0.0, price))
        orders = []
        for asset, target, price in sells + buys:  # sells first: they free cash for the buys
            order = self._to_target_value(asset, target, price, order_type, None, rebalance_id)
            if order is not None:
                orders.append(order)
        return orders


def _finite(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
