"""AlpacaBroker: the async `BrokerAdapter` over alpaca-py's TradingClient and the trade stream.

Orders carry the runtime's client order id, so a retry after a lost answer finds the order
instead of placing a second one. Fills come from the trade-updates stream; after the stream
was down a REST poll reconciles what was missed. While disconnected, orders are refused.

This module holds the class, its connection (the trade stream going up and down) and the
account, position and open-order reads; the rest is in mixins a reader finds by name:
`broker_orders` (submit, cancel, replace, close), `broker_updates` (trade-stream events become
fills and status changes), `broker_reconcile` (catching up with Alpaca after a drop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from alpaca.common.enums import BaseURL
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import GetOrdersRequest
from ml4t.backtest import Order, Position

from ml4t_live_alpaca.broker_orders import AlpacaOrders
from ml4t_live_alpaca.broker_reconcile import AlpacaReconcile
from ml4t_live_alpaca.broker_updates import AlpacaUpdates
from ml4t_live_alpaca.config import AlpacaBrokerConfig
from ml4t_live_alpaca.credentials import Credentials, load_credentials
from ml4t_live_alpaca.mapping import mappable, to_position
from ml4t_live_alpaca.rest import AlpacaRequestError, RestCaller, Sleep, prepare_client
from ml4t_live_alpaca.stream import TradeUpdateStream
from ml4t_live_alpaca.tracking import Tracks
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


class AlpacaBroker(AlpacaOrders, AlpacaUpdates, AlpacaReconcile):
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
        orders = (mappable(a) for a in await self._open_alpaca_orders())
        return [order for order in orders if order is not None]

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
