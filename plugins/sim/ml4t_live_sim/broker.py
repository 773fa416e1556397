"""SimBroker: the paper broker. It drives ml4t-backtest's own `Broker` bar by bar, so its fills
are the backtest's fills by construction (same matching, costs, cash checks and fill ordering).

Per bar it makes the calls `ml4t.backtest.Engine` makes, in the same order; the one difference
is where the strategy's callback sits: the live engine calls `on_bar` before `on_data`, so the
same-bar ("close") mode's after-strategy pass runs at the start of the *next* bar (still at the
previous bar's time and prices) or at `flush()`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import datetime
from typing import Any

from ml4t.backtest import Broker, Order, OrderSide, OrderStatus
from ml4t.backtest.config import ExecutionMode

from ml4t_live_core.bars import Bars, column_closes
from ml4t_live_core.protocols import AccountEvent, FillEvent, OrderStatusEvent
from ml4t_live_core.venue import SimulatedVenue
from ml4t_live_sim.config import SimBrokerConfig

_QUOTES = ("vwap", "bid", "ask", "mid", "bid_size", "ask_size")
_OHLCV = {"open", "high", "low", "close", "volume"}
_FINISHED = {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}


def _columns_slow(data: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Bars with missing fields, a "price" instead of a close, or quotes: field by field."""
    opens, highs, lows, closes, volumes = {}, {}, {}, {}, {}
    quotes: dict[str, dict[str, float]] = {key: {} for key in _QUOTES}
    for asset, bar in data.items():
        close = bar.get("close", bar.get("price"))
        if (
            not isinstance(close, int | float) or isinstance(close, bool)
            or not math.isfinite(close)
        ):
            continue  # no usable price: the asset is simply absent from this bar
        closes[asset] = close
        opens[asset] = bar.get("open", close)
        highs[asset] = bar.get("high", close)
        lows[asset] = bar.get("low", close)
        volumes[asset] = bar.get("volume", 0)
        for key in _QUOTES:
            if bar.get(key) is not None:
                quotes[key][asset] = bar[key]
    return opens, highs, lows, closes, volumes, quotes


class SimBroker(SimulatedVenue):
    """A paper broker whose order book and matching are an `ml4t.backtest.Broker`."""

    def __init__(self, config: SimBrokerConfig | None = None):
        config = config or SimBrokerConfig()
        super().__init__(
            initial_cash=config.initial_cash,
            multipliers=config.multipliers,
            allow_short=config.allow_short,
            name="sim",
        )
        self.config = config
        self.backtest_config = config.backtest_config()
        self.backtest_contract_specs = config.contract_specs()
        self.backtest_execution_limits = config.execution_limits()
        self.engine = Broker.from_config(
            self.backtest_config,
            contract_specs=self.backtest_contract_specs or None,
            execution_limits=self.backtest_execution_limits,
        )
        self._same_bar = self.engine.execution_mode is ExecutionMode.SAME_BAR
        #: inner (backtest) order id <-> client order id, for orders the backtest broker holds.
        self._client_of: dict[str, str] = {}
        self._inner_of: dict[str, str] = {}
        self._inner_orders: dict[str, Order] = {}  # client id -> the backtest broker's own Order
        self._live: dict[str, Order] = {}
        self._fills_seen = 0
        self._bar_open = False

    # --- orders ----------------------------------------------------------------------------
    async def submit_order(self, order: Order) -> Order:
        if order.order_id in self._live:  # idempotent: a retry with the same id is a no-op
            return copy.copy(self._live[order.order_id])
        order = copy.copy(order)
        self._emit(OrderStatusEvent(order.order_id, OrderStatus.PENDING, self.clock.now()))
        signed = order.quantity if order.side is OrderSide.BUY else -order.quantity
        try:
            inner = self.engine.submit_order(
                order.asset,
                signed,
                order.side,
                order.order_type,
                order.limit_price,
                order.stop_price,
                order.trail_amount,
            )
        except ValueError as exc:  # the backtest broker refused the arguments outright
            return self._rejected(order, f"sim broker refused the order: {exc}")
        if inner is None:
            return self._rejected(
                order, self.engine.last_rejection_reason or "sim broker refused the order"
            )
        self._track(order, inner)
        self._harvest(self.engine._current_time or self.clock.now())
        return copy.copy(order)

    async def submit_bracket(
        self, entry: Order, take_profit: Order, stop_loss: Order
    ) -> tuple[Order, Order, Order]:
        """A bracket as real brokers run it: children rest only once the entry has filled, then
        cancel each other (OCO). This deliberately differs from ml4t-backtest 0.2, whose
        `submit_bracket` rests the children at once (a flat account could be shorted by them)."""
        children = [copy.copy(take_profit), copy.copy(stop_loss)]
        for child in children:
            child.parent_id = entry.order_id
            self._emit(OrderStatusEvent(child.order_id, OrderStatus.PENDING, self.clock.now()))
        self._waiting[entry.order_id] = children
        result = await self.submit_order(entry)
        if result.status is OrderStatus.REJECTED:
            for child in self._waiting.pop(entry.order_id, []):
                self._cancel(child, "bracket entry rejected")
        return result, copy.copy(children[0]), copy.copy(children[1])

    async def cancel_order(self, client_order_id: str) -> bool:
        waiting_child = self._pop_waiting_child(client_order_id)
        if waiting_child is not None:
            self._cancel(waiting_child, "cancelled")
            return True
        inner_id = self._inner_of.get(client_order_id)
        if inner_id is None or not self.engine.cancel_order(inner_id):
            return False
        for child in self._waiting.pop(client_order_id, []):
            self._cancel(child, "bracket entry cancelled")
        self._harvest(self.engine._current_time or self.clock.now())
        return True

    async def modify_order(self, client_order_id: str, **changes: float) -> bool:
        """`quantity` is the new total (the protocol's meaning); the backtest broker takes the
        new remaining quantity, so this order's fills are subtracted."""
        inner_id = self._inner_of.get(client_order_id)
        if inner_id is None:
            return False
        inner_changes = dict(changes)
        if "quantity" in changes:
            filled = self._live[client_order_id].filled_quantity or 0.0
            inner_changes["quantity"] = changes["quantity"] - filled
        if not self.engine.update_order(inner_id, **inner_changes):
            return False
        order = self._live[client_order_id]
        for name, value in changes.items():
            setattr(order, name, value)
        return True

    async def get_open_orders(self) -> list[Order]:
        return [copy.copy(o) for o in self._live.values() if o.status is OrderStatus.PENDING]

    def _track(self, order: Order, inner: Order) -> None:
        self._client_of[inner.order_id] = order.order_id
        self._inner_of[order.order_id] = inner.order_id
        self._inner_orders[order.order_id] = inner
        self._live[order.order_id] = order

    def _forget(self, client_id: str) -> None:
        """A finished order leaves the maps, so memory does not grow with history."""
        self._live.pop(client_id, None)
        self._inner_orders.pop(client_id, None)
        inner_id = self._inner_of.pop(client_id, None)
        if inner_id is not None:
            self._client_of.pop(inner_id, None)

    def _rejected(self, order: Order, reason: str) -> Order:
        order.reject(reason, "broker_rejected")
        self._emit(OrderStatusEvent(order.order_id, OrderStatus.REJECTED, self.clock.now(), reason))
        return order

    # --- market data -------------------------------------------------------------------------
    async def on_bar(self, timestamp: datetime, data: dict[str, dict[str, Any]]) -> None:
        """One bar of `ml4t.backtest.Engine`: update time, fill what is due, report it."""
        engine = self.engine
        if self._bar_open:
            self._end_bar()
        opens = highs = lows = volumes = None
        quotes: dict[str, dict[str, float]] | None = None
        first = next(iter(data.values()), None)
        closes = column_closes(data)
        if closes is not None:  # the feed built the columns (a replay): hand them over as they are
            assert isinstance(data, Bars)
            opens, highs, lows, volumes = data.opens, data.highs, data.lows, data.volumes
            quotes = {key: {} for key in _QUOTES}
        elif (
            first is not None and first.keys() == _OHLCV
        ):  # plain OHLCV bars: by column
            try:
                closes = {a: bar["close"] for a, bar in data.items() if math.isfinite(bar["close"])}
                opens = {a: data[a]["open"] for a in closes}
                highs = {a: data[a]["high"] for a in closes}
                lows = {a: data[a]["low"] for a in closes}
                volumes = {a: data[a]["volume"] for a in closes}
                quotes = {key: {} for key in _QUOTES}
            except (KeyError, TypeError):
                opens = None
        if (
            closes is None or opens is None or highs is None or lows is None or volumes is None
            or quotes is None
        ):
            opens, highs, lows, closes, volumes, quotes = _columns_slow(data)
        prices = closes
        engine._update_time(
            timestamp,
            prices,
            opens,
            highs,
            lows,
            closes,
            volumes,
            quotes["vwap"],
            quotes["bid"],
            quotes["ask"],
            quotes["mid"],
            quotes["bid_size"],
            quotes["ask_size"],
            {},  # per-asset signals: stored by the backtest broker, never read by its matching
        )
        exits = engine._process_pending_exits()
        if exits:
            engine._process_orders(use_open=True, order_ids={o.order_id for o in exits})
        engine.evaluate_position_rules()
        if self._same_bar:
            engine._process_orders()
        else:
            engine._process_orders(use_open=True)
        self._bar_open = True
        self._prices.update(closes)
        self._harvest(timestamp)
        self._prune()

    def _end_bar(self) -> None:
        """What the backtest does after the strategy's callback on the bar that is ending."""
        if self._same_bar:
            self.engine._process_orders()
        self.engine._update_water_marks()
        self._harvest(self.engine._current_time or self.clock.now())

    async def flush(self) -> None:
        """Finish the current bar (same-bar mode fills its orders at the close) and report."""
        if self._bar_open:
            self._end_bar()
            self._bar_open = False

    async def disconnect(self) -> None:
        await self.flush()
        await super().disconnect()

    def _after_complete(self, order: Order) -> None:
        """A filled bracket entry activates its children (the backtest broker then runs the OCO)."""
        for child in self._waiting.pop(order.order_id, []):
            signed = child.quantity if child.side is OrderSide.BUY else -child.quantity
            inner = self.engine.submit_order(
                child.asset,
                signed,
                child.side,
                child.order_type,
                child.limit_price,
                child.stop_price,
                child.trail_amount,
            )
            if inner is None:
                self._rejected(
                    child,
                    self.engine.last_rejection_reason or "sim broker refused the bracket child",
                )
            else:
                inner.parent_id = order.order_id  # the backtest broker cancels siblings on a fill
                self._track(child, inner)

    def _prune(self) -> None:
        """Drop the backtest broker's finished history once reported. It keeps every order,
        fill and trade forever (fine for one backtest), and its `get_order` scans them all: a
        live day must not slow down or grow with it."""
        engine = self.engine
        if self._fills_seen:
            del engine.fills[: self._fills_seen]
            self._fills_seen = 0
        del engine.trades[:]
        orders = engine.orders
        if len(orders) > 2 * len(self._live) + 64:
            orders[:] = [o for o in orders if o.status not in _FINISHED]

    # --- reporting ---------------------------------------------------------------------------
    def _harvest(self, when: datetime) -> None:
        """Turn what the backtest broker did since the last look into broker events."""
        fills = self.engine.fills
        new = fills[self._fills_seen :]
        self._fills_seen = len(fills)
        for fill in new:
            client_id = self._client_of.get(fill.order_id)
            if client_id is None:
                continue
            order = self._live[client_id]
            inner = self._inner_orders.get(client_id)
            fill = dataclasses.replace(
                fill,
                order_id=client_id,
                multiplier=fill.multiplier or self.get_multiplier(fill.asset),
            )
            self.portfolio.apply_fill(fill, fill.multiplier or 1.0)
            order.filled_quantity = (order.filled_quantity or 0.0) + fill.quantity
            order.filled_price, order.filled_at = fill.price, fill.timestamp
            order.commission_paid = (order.commission_paid or 0.0) + fill.commission
            complete = inner is not None and inner.status is OrderStatus.FILLED
            if complete:
                order.status = OrderStatus.FILLED
                self._forget(client_id)
                self._after_complete(order)
            self._fill_seq += 1
            self._emit(
                FillEvent(
                    fill, order_complete=complete, execution_id=f"{self.name}-x{self._fill_seq}"
                )
            )
        if new:
            self._emit(AccountEvent(self._snapshot()))
        for client_id, order in list(self._live.items()):
            inner = self._inner_orders.get(client_id)
            if inner is None or inner.status is OrderStatus.PENDING:
                continue
            self._forget(client_id)
            if inner.status is OrderStatus.FILLED:
                continue
            if inner.status is OrderStatus.REJECTED:
                reason = inner.rejection_reason or "rejected by the sim broker"
                order.reject(reason, "broker_rejected")
                self._emit(OrderStatusEvent(client_id, OrderStatus.REJECTED, when, reason))
            elif inner.status is OrderStatus.CANCELLED:
                order.status = OrderStatus.CANCELLED
                self._emit(
                    OrderStatusEvent(
                        client_id,
                        OrderStatus.CANCELLED,
                        when,
                        getattr(inner, "cancellation_reason", None) or "cancelled",
                    )
                )
