"""The order path of AlpacaBroker: submit, cancel, replace (modify) and close a position.

Orders carry the runtime's client order id, so a retry after a lost answer finds the order
instead of placing a second one; when no answer comes at all the order stays pending and a
background reconciliation (`broker_reconcile`) decides. While disconnected, orders are refused.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

from alpaca.common.exceptions import APIError
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import OrderRequest, ReplaceOrderRequest
from ml4t.backtest import Order

from ml4t_live_alpaca.config import AlpacaBrokerConfig
from ml4t_live_alpaca.credentials import Credentials
from ml4t_live_alpaca.mapping import (
    EPSILON,
    UnsupportedOrderError,
    is_fractional,
    opt_float,
    replacement_client_id,
    to_order,
    to_order_request,
    to_status,
)
from ml4t_live_alpaca.rest import (
    AlpacaRequestError,
    RestCaller,
    api_error_message,
    is_transient,
    status_of,
)
from ml4t_live_alpaca.tracking import OrderTrack, Tracks
from ml4t_live_core.errors import BrokerUnavailableError

log = logging.getLogger("ml4t_live.alpaca")


class AlpacaOrders:
    """Mixin of `AlpacaBroker`: every order call, from the runtime's order to Alpaca's answer."""

    # Set by `AlpacaBroker.__init__`.
    config: AlpacaBrokerConfig
    _credentials: Credentials
    _client: Any  # alpaca-py's TradingClient, prepared by `rest.prepare_client`
    _rest: RestCaller
    _tracks: Tracks

    if TYPE_CHECKING:  # defined by `AlpacaBroker` and `AlpacaReconcile`

        @property
        def is_connected(self) -> bool: ...

        async def _reconcile_soon(self) -> None: ...

        def _spawn(self, coro: Any) -> None: ...

    # --- orders ---------------------------------------------------------------------------
    async def submit_order(self, order: Order) -> Order:
        """Send once; after a lost answer, find the order by client id before sending again."""
        if not self.is_connected:
            raise BrokerUnavailableError(
                "alpaca: not connected (trade stream down or reconnecting); order not sent"
            )
        order = copy.copy(order)
        if self._tracks.forgotten(order.order_id):
            # Alpaca would answer with the finished order, whose fills were counted already
            order.reject(
                f"order id {order.order_id} was already used by an order that finished; "
                "not sent again",
                "duplicate_order_id",
            )
            return order
        try:
            request = to_order_request(order, self.config.time_in_force)
        except UnsupportedOrderError as exc:
            order.reject(str(exc), "unsupported_order")
            return order
        track = self._tracks.get(order.order_id) or OrderTrack.of(order)
        self._tracks[order.order_id] = track
        track.in_flight = True
        try:
            placed = await self._submit_idempotent(request, order.order_id)
        except APIError as exc:
            if is_transient(exc):
                return self._outcome_unknown(order, exc)
            self._tracks.finish(track)
            order.reject(
                f"alpaca refused the order: {api_error_message(exc, self._credentials)}",
                "broker_rejected",
            )
            return order
        except Exception as exc:
            if is_transient(exc):
                return self._outcome_unknown(order, exc)
            raise
        finally:
            track.in_flight = False
        self._remember(track, placed)
        order.status = to_status(placed.status)
        return order

    async def _submit_idempotent(self, request: OrderRequest, client_order_id: str) -> AlpacaOrder:
        async for attempt in self._rest.retrying():
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    existing = await self._find_by_client_id(client_order_id)
                    if existing is not None:
                        log.info(
                            "alpaca: order %s was accepted before the answer was lost; not re-sent",
                            client_order_id,
                        )
                        return existing
                try:
                    return await self._rest.once(self._client.submit_order, request)
                except APIError as exc:
                    if status_of(exc) == 422 and "unique" in str(exc):
                        existing = await self._find_by_client_id(client_order_id)
                        if existing is not None:
                            return existing
                    raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _find_by_client_id(self, client_order_id: str) -> AlpacaOrder | None:
        try:
            return await self._rest.once(self._client.get_order_by_client_id, client_order_id)
        except APIError as exc:
            if status_of(exc) == 404:
                return None
            raise

    def _outcome_unknown(self, order: Order, exc: BaseException) -> Order:
        """Neither sent for sure nor refused: keep it pending, let a reconciling poll decide."""
        log.warning(
            "alpaca: order %s: no answer after %d attempts (%s); reconciling in the background",
            order.order_id,
            self.config.retry_attempts,
            api_error_message(exc, self._credentials),
        )
        self._spawn(self._reconcile_soon())
        return order

    def _remember(self, track: OrderTrack, placed: AlpacaOrder) -> None:
        alpaca_id = str(placed.id)
        track.alpaca_id = alpaca_id
        self._tracks.link(alpaca_id, track)

    async def cancel_order(self, client_order_id: str) -> bool:
        track = self._tracks.get(client_order_id)
        if not self.is_connected:
            log.warning("alpaca: cancel of %s refused: not connected", client_order_id)
            return False
        alpaca_id = track.alpaca_id if track else None
        try:
            if alpaca_id is None:
                found = await self._find_by_client_id(client_order_id)
                if found is None:
                    return False
                alpaca_id = str(found.id)
            await self._rest.call(
                self._client.cancel_order_by_id, alpaca_id, what=f"cancel {client_order_id}"
            )
        except (AlpacaRequestError, APIError) as exc:
            log.warning(
                "alpaca: cancel of %s failed: %s",
                client_order_id,
                self._credentials.redact(str(exc)),
            )
            return False
        return True

    async def modify_order(self, client_order_id: str, **changes: float) -> bool:
        """Alpaca replaces the order with a new one; it keeps the runtime's id (plus ".r<n>").

        `quantity` is the runtime's new total (the core protocol). Alpaca's replacement is a
        fresh order that fills from zero, so its `qty` is what is still to fill: the total less
        every fill so far. An omitted `qty` would copy the replaced order's full qty (fills
        included, alpacahq/Alpaca-API#165), so after a fill `qty` is always sent.
        """
        track = self._tracks.get(client_order_id)
        if track is None or track.alpaca_id is None or track.terminal or not self.is_connected:
            return False
        total = changes.get("quantity", track.quantity)
        filled = track.total_filled
        remaining = total - filled
        if remaining <= EPSILON:
            raise ValueError(
                f"order {client_order_id}: new total {total} leaves nothing to fill "
                f"({filled} already filled)"
            )
        send_qty = "quantity" in changes or filled > EPSILON
        if send_qty and is_fractional(remaining):
            raise UnsupportedOrderError(
                f"order {client_order_id}: Alpaca replaces whole-share quantities only, "
                f"got {remaining} still to fill"
            )
        request = ReplaceOrderRequest(
            qty=int(round(remaining)) if send_qty else None,
            limit_price=changes.get("limit_price"),
            stop_price=changes.get("stop_price"),
            trail=changes.get("trail_amount"),
            client_order_id=replacement_client_id(client_order_id, track.generation + 1),
        )
        try:
            new = await self._rest.call(
                self._client.replace_order_by_id,
                track.alpaca_id,
                request,
                what=f"replace {client_order_id}",
            )
        except AlpacaRequestError as exc:
            log.warning("%s", exc)
            return False
        track.generation += 1
        track.quantity = total
        self._remember(track, new)
        track.baseline(str(new.id), float(new.filled_qty or 0.0), opt_float(new.filled_avg_price))
        return True

    async def close_position(self, asset: str) -> Order | None:
        """Alpaca's own liquidation order (its client id is Alpaca's, not the runtime's)."""
        if not self.is_connected:
            raise BrokerUnavailableError("alpaca: not connected; position not closed")
        try:
            placed = await self._rest.call(
                self._client.close_position, asset, what=f"close position {asset}"
            )
        except AlpacaRequestError as exc:
            if exc.status == 404:
                return None
            raise
        order = to_order(placed)
        track = OrderTrack(order.order_id, order.asset, order.side, order.order_type)
        self._tracks[order.order_id] = track
        self._remember(track, placed)
        return order
