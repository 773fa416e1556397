"""ThreadSafeBrokerWrapper: the synchronous ml4t-backtest broker surface, for the strategy thread.

Reads come from state the event loop publishes copy-on-write (holdings, prices, pending
orders), so a getter costs no thread hop and always sees a consistent object. Order calls
hop to the loop with `run_coroutine_threadsafe` and a bounded timeout. A backtest-only method
raises `BacktestOnlyError` naming it; nothing is ever a silent no-op.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import dataclasses
import itertools
import logging
import math
import threading
import warnings
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ml4t.backtest import Broker, Fill, Order, OrderSide, OrderType, Position
from ml4t.backtest.config import ExecutionPrice, ShareType
from ml4t.backtest.controls import OrderControlContext, TradingControl

from ml4t_live_core.errors import BacktestOnlyError, BrokerUnavailableError
from ml4t_live_core.orders import check_update_fields, is_positive_finite, validate_order_args
from ml4t_live_core.safety import SafeBroker

log = logging.getLogger("ml4t_live.wrapper")

_MIN_TARGET_DELTA = 0.01  # same "less than a cent: no trade" rule as ml4t-backtest


class ThreadSafeBrokerWrapper:
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

    def run_completion_validators(self, bars: int) -> None:
        for _owner, validator in self._completion_validators:
            validator(bars)

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

    # --- what TargetWeightExecutor reaches for ------------------------------------------
    def _next_rebalance_id(self) -> str:
        return f"REB-{next(self._rebalance_ids)}"

    def _process_orders(self) -> None:
        """Live meaning: orders are processed by the venue as they arrive; wait for the loop to
        deliver every event already received so the next read sees them."""
        self._call(asyncio.sleep(0), self._getter_timeout, "_process_orders")

    def _register_completion_validator(
        self, owner: object, validator: Callable[[int], None]
    ) -> None:
        if all(existing is not owner for existing, _ in self._completion_validators):
            self._completion_validators.append((owner, validator))

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


def _finite(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
