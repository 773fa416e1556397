"""AlpacaBroker: the async `BrokerAdapter` over alpaca-py's TradingClient and the trade stream.

Orders carry the runtime's client order id, so a retry after a lost answer finds the order
instead of placing a second one. Fills come from the trade-updates stream; after the stream
was down a REST poll reconciles what was missed. While disconnected, orders are refused.

This module holds the class, its connection, reads and order path; the rest is in mixins a
reader finds by name: `broker_updates` (trade-stream events become fills and status
changes), `broker_reconcile` (catching up with Alpaca after a drop).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from datetime import datetime
from typing import Any

from alpaca.common.enums import BaseURL
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import GetOrdersRequest, OrderRequest, ReplaceOrderRequest
from ml4t.backtest import Order, Position

from ml4t_live_alpaca.broker_reconcile import AlpacaReconcile
from ml4t_live_alpaca.broker_updates import AlpacaUpdates, _opt_float
from ml4t_live_alpaca.config import AlpacaBrokerConfig
from ml4t_live_alpaca.credentials import Credentials, load_credentials
from ml4t_live_alpaca.mapping import (
    EPSILON,
    UnsupportedOrderError,
    is_fractional,
    replacement_client_id,
    to_order,
    to_order_request,
    to_position,
    to_status,
)
from ml4t_live_alpaca.rest import (
    AlpacaRequestError,
    RestCaller,
    Sleep,
    api_error_message,
    is_transient,
    prepare_client,
    status_of,
)
from ml4t_live_alpaca.stream import TradeUpdateStream
from ml4t_live_alpaca.tracking import OrderTrack, Tracks
from ml4t_live_core.clock import Clock, SystemClock
from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_core.protocols import (
    AccountSnapshot,
    BrokerEvent,
    ConnectionEvent,
    EventHandler,
    FillEvent,
)

log = logging.getLogger("ml4t_live.alpaca")


class AlpacaBroker(AlpacaUpdates, AlpacaReconcile):
    """Alpaca paper or live trading through alpaca-py."""

    name = "alpaca"

    def __init__(
        self,
        config: AlpacaBrokerConfig | None = None,
        *,
        environ: dict[str, str] | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ):
        self.config = cfg = config or AlpacaBrokerConfig()
        self._credentials: Credentials = load_credentials(cfg.key_env, cfg.secret_env, environ)
        client = TradingClient(
            self._credentials.key_id,
            self._credentials.secret,
            paper=cfg.paper,
            url_override=cfg.base_url,
        )
        self._client = prepare_client(client, cfg.http_timeout)
        self._rest = RestCaller(cfg, self._credentials, sleep=sleep)
        stream_url = (
            cfg.stream_url
            or (BaseURL.TRADING_STREAM_PAPER if cfg.paper else BaseURL.TRADING_STREAM_LIVE).value
        )
        self._stream = TradeUpdateStream(
            stream_url,
            self._credentials,
            cfg,
            on_update=self._on_update,
            on_up=self._on_stream_up,
            on_down=self._on_stream_down,
            sleep=sleep,
        )
        self._clock = clock or SystemClock()
        self._handlers: list[EventHandler] = []
        self._tracks = Tracks(cfg.finished_order_limit)
        self._connected = False
        self._synced_once = False
        self._fills_emitted = 0
        self._background: set[asyncio.Task[Any]] = set()
        if not cfg.paper:
            log.warning("alpaca: LIVE trading endpoint configured: orders move real money")

    # --- connection -----------------------------------------------------------------------
    async def connect(self) -> None:
        """Check the account answers, open the trade stream, adopt open orders."""
        try:
            await self._rest.call(self._client.get_account, what="account check")
            await self._stream.start()
        except (AlpacaRequestError, ConnectionError, TimeoutError) as exc:
            raise BrokerUnavailableError(
                self._credentials.redact(f"alpaca: cannot connect: {exc}")
            ) from None

    async def disconnect(self) -> None:
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._stream.stop()
        self._set_connected(False, "disconnected on request")

    @property
    def is_connected(self) -> bool:
        return self._connected and self._stream.up

    def subscribe(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def _emit(self, event: BrokerEvent) -> None:
        if isinstance(event, FillEvent):
            self._fills_emitted += 1
        for handler in self._handlers:
            handler(event)

    def _set_connected(self, connected: bool, reason: str) -> None:
        if connected == self._connected:
            return
        self._connected = connected
        log.log(
            logging.INFO if connected else logging.WARNING,
            "alpaca: %s (%s)",
            "connected" if connected else "DISCONNECTED: new orders are refused",
            reason,
        )
        self._emit(ConnectionEvent(connected, reason))

    async def _on_stream_up(self) -> None:
        # The stream listens before this poll, so nothing falls between the two; fills seen
        # by both are counted once (cumulative quantities).
        await self._reconcile(emit=self._synced_once)
        self._synced_once = True
        self._set_connected(
            True, f"trade stream session {self._stream.sessions + 1} listening, orders reconciled"
        )

    def _on_stream_down(self, reason: str) -> None:
        self._set_connected(False, reason)

    # --- queries --------------------------------------------------------------------------
    async def get_positions(self) -> dict[str, Position]:
        positions = await self._rest.call(self._client.get_all_positions, what="get positions")
        now = self._clock.now()
        return {p.symbol: to_position(p, now) for p in positions}

    async def get_open_orders(self) -> list[Order]:
        return [to_order(a) for a in await self._open_alpaca_orders()]

    async def _open_alpaca_orders(self) -> list[AlpacaOrder]:
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        return list(
            await self._rest.call(self._client.get_orders, request, what="list open orders")
        )

    async def get_account(self) -> AccountSnapshot:
        account = await self._rest.call(self._client.get_account, what="get account")
        return AccountSnapshot(
            cash=float(account.cash or 0.0),
            equity=float(account.equity or 0.0),
            buying_power=float(account.buying_power or 0.0),
            currency=account.currency or "USD",
        )

    def get_multiplier(self, asset: str) -> float:
        return 1.0

    async def on_bar(self, timestamp: datetime, data: dict[str, dict[str, Any]]) -> None:
        return None  # Alpaca fills against its own market

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
        track.baseline(str(new.id), float(new.filled_qty or 0.0), _opt_float(new.filled_avg_price))
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
