"""ThreadSafeBrokerWrapper: the synchronous ml4t-backtest broker surface, for the strategy thread.

Reads come from state the event loop publishes copy-on-write (holdings, prices, pending
orders), so a getter costs no thread hop and always sees a consistent object. Order calls
hop to the loop with `run_coroutine_threadsafe` and a bounded timeout. A backtest-only method
raises `BacktestOnlyError` naming it; nothing is ever a silent no-op.

This module holds the class, the hop and the order calls; the rest is in mixins a reader finds
by name: `wrapper_reads` (getters), `wrapper_targets` (target and rebalance orders),
`wrapper_controls` (strategy-registered trading controls and completion validators).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import math
import threading
import warnings
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from ml4t.backtest import Broker, Order, OrderSide, OrderType
from ml4t.backtest.config import ShareType
from ml4t.backtest.controls import TradingControl

from ml4t_live_core.errors import BacktestOnlyError, BrokerUnavailableError
from ml4t_live_core.orders import check_update_fields, is_positive_finite, validate_order_args
from ml4t_live_core.safety import SafeBroker
from ml4t_live_core.wrapper_controls import WrapperControls
from ml4t_live_core.wrapper_reads import WrapperReads
from ml4t_live_core.wrapper_targets import WrapperTargets

log = logging.getLogger("ml4t_live.wrapper")


class ThreadSafeBrokerWrapper(WrapperTargets, WrapperControls, WrapperReads):
    """What `on_data(..., broker)` receives live: the backtest `Broker` methods, safely."""

    def __init__(
        self,
        safe: SafeBroker,
        loop: asyncio.AbstractEventLoop,
        *,
        order_timeout: float,
        getter_timeout: float,
        share_type: ShareType = ShareType.INTEGER,
    ):
        self._safe = safe
        self._loop = loop
        # SafeBroker bounds the venue call by order_timeout itself and then answers (an order
        # with no acknowledgement comes back PENDING under its id). The hop waits longer, by a
        # getter's bound for the checks and the journal, so the strategy gets that answer and
        # never a hop timeout for an order that may exist at the broker (it would resend it).
        self._order_timeout = order_timeout + getter_timeout
        self._getter_timeout = getter_timeout
        self.share_type = share_type
        self._controls: list[TradingControl] = []
        self._rebalance_ids = itertools.count(1)
        self._completion_validators: list[tuple[object, Callable[[int], None]]] = []
        self._bar_time: datetime | None = None
        self._bar: dict[str, dict[str, Any]] = {}
        # What the backtest broker counts for strategy controls: submitted orders per civil day
        # and per session, and per request-counting control its validated requests per day.
        self._day_counts: dict[Any, int] = {}
        self._session_counts: dict[Any, int] = {}
        self._request_counts: dict[tuple[int, Any], int] = {}
        self.recorded: list[dict[str, Any]] = []

    # --- engine side ---------------------------------------------------------------------
    def begin_bar(self, timestamp: datetime, data: dict[str, dict[str, Any]]) -> None:
        """Called by the engine before `on_data`: the bar whose prices 'current' refers to."""
        self._bar_time = timestamp
        self._bar = data

    # --- hops to the loop ----------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float, what: str) -> Any:
        if self._loop_thread_is_current():
            coro.close()
            raise RuntimeError(
                f"broker.{what}() was called on the event loop thread; it would deadlock"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BrokerUnavailableError(
                f"broker.{what}() got no answer within {timeout:.1f}s"
            ) from None

    def _loop_thread_is_current(self) -> bool:
        thread_id = getattr(self._loop, "_thread_id", None)
        return thread_id is not None and thread_id == threading.get_ident()

    # --- orders --------------------------------------------------------------------------
    def submit_order(
        self,
        asset: str,
        quantity: float,
        side: OrderSide | None = None,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_amount: float | None = None,
        _options: Any = None,
    ) -> Order | None:
        """Submit an order; a risk rejection comes back as an Order with status REJECTED."""
        return self._submit(
            asset,
            quantity,
            side,
            order_type,
            limit_price,
            stop_price,
            trail_amount,
            rebalance_id=getattr(_options, "rebalance_id", None),
        )

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
    ) -> Order:
        asset, qty, side = validate_order_args(
            asset, quantity, side, order_type, limit_price, stop_price, trail_amount
        )
        if self._controls:
            request = self._run_controls(asset, qty if side is OrderSide.BUY else -qty)
            # As in the backtest, an order that passed the controls consumes the counts even if
            # it is rejected afterwards (there by the broker, here also by a risk check).
            self._commit_counts(request)
        order = self._call(
            self._safe.submit_order(
                asset,
                qty,
                side,
                order_type,
                limit_price,
                stop_price,
                trail_amount,
                rebalance_id=rebalance_id,
                is_close=is_close,
            ),
            self._order_timeout,
            "submit_order",
        )
        return order

    def buy(
        self,
        asset: str,
        shares: float | None = None,
        contracts: int | None = None,
        amount: float | None = None,
        dollars: float | None = None,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
    ) -> Order | None:
        return self._side_order(
            OrderSide.BUY, asset, shares, contracts, amount, dollars, order_type, limit_price
        )

    def sell(
        self,
        asset: str,
        shares: float | None = None,
        contracts: int | None = None,
        amount: float | None = None,
        dollars: float | None = None,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
    ) -> Order | None:
        return self._side_order(
            OrderSide.SELL, asset, shares, contracts, amount, dollars, order_type, limit_price
        )

    def _side_order(
        self,
        side: OrderSide,
        asset: str,
        shares: Any,
        contracts: Any,
        amount: Any,
        dollars: Any,
        order_type: OrderType,
        limit_price: Any,
    ) -> Order | None:
        given = [v for v in (shares, contracts, amount, dollars) if v is not None]
        if not given:
            raise ValueError("Must provide one of: shares, contracts, amount, dollars")
        if len(given) > 1:
            raise ValueError("Must provide only one of: shares, contracts, amount, dollars")
        if dollars is not None:
            if not is_positive_finite(dollars):
                raise ValueError(f"dollars must be a finite positive amount, got {dollars!r}")
            price = self._current_price(asset)
            if price is None:
                return None
            quantity = dollars / (price * self.get_multiplier(asset))
        else:
            quantity = given[0]
            if (
                isinstance(quantity, int | float)
                and not isinstance(quantity, bool)
                and math.isfinite(quantity)
                and quantity < 0
            ):
                raise ValueError(
                    f"{side.name.lower()}() quantity must be positive, got {quantity!r}"
                )
        return self._submit(asset, quantity, side, order_type, limit_price, None, None)

    def submit_bracket(
        self,
        asset: str,
        quantity: float,
        take_profit: float,
        stop_loss: float,
        entry_type: OrderType = OrderType.MARKET,
        entry_limit: float | None = None,
        validate_prices: bool = True,
    ) -> tuple[Order, Order, Order] | None:
        """Entry + take-profit + stop-loss as the broker's native bracket (children are OCO and
        activate when the entry fills). Inverted prices warn, as in the backtest."""
        if validate_prices:
            _warn_inverted_bracket(
                asset,
                quantity,
                take_profit,
                stop_loss,
                entry_limit if entry_limit is not None else self._current_price(asset),
            )
        return self._call(
            self._safe.submit_bracket(
                asset, quantity, take_profit, stop_loss, entry_type, entry_limit
            ),
            self._order_timeout,
            "submit_bracket",
        )

    def close_position(
        self, asset: str, order_type: OrderType = OrderType.MARKET, _options: Any = None
    ) -> Order | None:
        holding = self._safe.ledger.holdings.get(asset)
        if holding is None or holding.quantity == 0:
            return None
        side = OrderSide.SELL if holding.quantity > 0 else OrderSide.BUY
        return self._submit(
            asset,
            abs(holding.quantity),
            side,
            order_type,
            None,
            None,
            None,
            rebalance_id=getattr(_options, "rebalance_id", None),
            is_close=True,
        )

    def flatten_all_positions(
        self, reason: str, order_type: OrderType = OrderType.MARKET
    ) -> list[Order]:
        log.warning("flatten_all_positions: %s", reason)
        for order in self.get_pending_orders():
            self.cancel_order(order.order_id)
        return [
            o
            for asset in list(self._safe.ledger.holdings)
            if (o := self.close_position(asset, order_type))
        ]

    def reduce_position(
        self,
        asset: str,
        fraction: float,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
    ) -> Order | None:
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not math.isfinite(fraction)
            or not 0 < fraction <= 1
        ):
            raise ValueError(f"fraction must be a finite value in (0, 1], got {fraction!r}")
        holding = self._safe.ledger.holdings.get(asset)
        if holding is None or holding.quantity == 0:
            return None
        if fraction == 1:
            return self.close_position(asset, order_type)
        side = OrderSide.SELL if holding.quantity > 0 else OrderSide.BUY
        return self._submit(
            asset, abs(holding.quantity) * fraction, side, order_type, limit_price, None, None
        )

    def reduce_all_positions(
        self, fraction: float, reason: str, order_type: OrderType = OrderType.MARKET
    ) -> list[Order]:
        log.warning("reduce_all_positions(%s): %s", fraction, reason)
        for order in self.get_pending_orders():
            self.cancel_order(order.order_id)
        return [
            o
            for asset in list(self._safe.ledger.holdings)
            if (o := self.reduce_position(asset, fraction, order_type))
        ]

    def cancel_order(self, order_id: str) -> bool:
        return bool(
            self._call(self._safe.cancel_order(order_id), self._order_timeout, "cancel_order")
        )

    def update_order(self, order_id: str, **changes: Any) -> bool:
        """As in ml4t-backtest 0.2: `quantity` is the order's new *remaining* quantity."""
        check_update_fields(changes)  # refused before any control runs, as in the backtest
        order = self._safe.pending_view.get(order_id)
        if self._controls and order is not None:  # the backtest validates a replacement too
            remaining = changes.get("quantity", order.quantity - order.filled_quantity)
            if is_positive_finite(remaining):  # bad values are the loop's ValueError to raise
                signed = remaining if order.side is OrderSide.BUY else -remaining
                self._run_controls(order.asset, signed, replacing=order_id)
        return bool(
            self._call(
                self._safe.update_order(order_id, **changes), self._order_timeout, "update_order"
            )
        )

    # --- what TargetWeightExecutor reaches for ------------------------------------------
    def _next_rebalance_id(self) -> str:
        return f"REB-{next(self._rebalance_ids)}"

    def _process_orders(self) -> None:
        """Live meaning: orders are processed by the venue as they arrive; wait for the loop to
        deliver every event already received so the next read sees them."""
        self._call(asyncio.sleep(0), self._getter_timeout, "_process_orders")

    def record(self, **values: Any) -> None:
        self.recorded.append({"timestamp": self._bar_time, **values})

    # --- everything else on the backtest Broker ------------------------------------------
    def get_trades(self, *args: Any, **kwargs: Any) -> Any:
        raise BacktestOnlyError(
            "get_trades", "round-trip trade records are not kept live; use get_fills()"
        )

    def get_last_trade(self, *args: Any, **kwargs: Any) -> Any:
        raise BacktestOnlyError(
            "get_last_trade", "round-trip trade records are not kept live; use get_fills()"
        )

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("__") and hasattr(Broker, name):
            raise BacktestOnlyError(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")


def _warn_inverted_bracket(
    asset: str, quantity: Any, take_profit: Any, stop_loss: Any, reference: float | None
) -> None:
    if (
        reference is None
        or not isinstance(quantity, int | float)
        or not all(isinstance(p, int | float) for p in (take_profit, stop_loss))
    ):
        return  # argument errors are raised by validation on the loop
    long = quantity > 0
    if (take_profit <= reference) if long else (take_profit >= reference):
        warnings.warn(
            f"Bracket order for {'LONG' if long else 'SHORT'} {asset}: take_profit ({take_profit}) "
            f"is on the wrong side of entry ({reference})",
            UserWarning,
            stacklevel=3,
        )
    if (stop_loss >= reference) if long else (stop_loss <= reference):
        warnings.warn(
            f"Bracket order for {'LONG' if long else 'SHORT'} {asset}: stop_loss ({stop_loss}) "
            f"is on the wrong side of entry ({reference})",
            UserWarning,
            stacklevel=3,
        )
