"""ToyBroker: an async `BrokerAdapter` over the made-up ToyBroker REST API.

Orders go out with the runtime's client order id (the API is idempotent on it); fills and
status changes come back by polling /v1/events and are emitted as broker events. A failed
poll reports `ConnectionEvent(connected=False)` (the runtime then refuses new orders) and the
next successful one reports the reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
from ml4t.backtest import Fill, Order, OrderSide, OrderStatus, OrderType, Position

from ml4t_example_toybroker.config import ToyBrokerConfig
from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_core.protocols import (
    AccountSnapshot,
    BrokerEvent,
    ConnectionEvent,
    EventHandler,
    FillEvent,
    OrderStatusEvent,
)

log = logging.getLogger("ml4t_live.toybroker")

_STATUS = {
    "pending": OrderStatus.PENDING,
    "open": OrderStatus.PENDING,
    "filled": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}


class ToyBrokerError(RuntimeError):
    """The API answered something this adapter does not understand."""


class ToyBroker:
    name = "toybroker"

    def __init__(self, config: ToyBrokerConfig):
        self.config = config
        self._base = str(config.base_url).rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._handlers: list[EventHandler] = []
        self._poller: asyncio.Task[None] | None = None
        self._seen = 0
        self._link_up = False

    # --- connection ---------------------------------------------------------------------------
    async def connect(self) -> None:
        headers = {"Authorization": f"Bearer {self.config.api_key.get_secret_value()}"}
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout)
        self._session = aiohttp.ClientSession(headers=headers, timeout=timeout)
        try:
            await self._get("/v1/account")
            self._seen = len(await self._get("/v1/events"))  # history before us is not news
        except BaseException:
            await self._session.close()
            self._session = None
            raise
        self._link_up = True
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def disconnect(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._link_up = False

    @property
    def is_connected(self) -> bool:
        return self._session is not None and self._link_up

    def subscribe(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def _emit(self, event: BrokerEvent) -> None:
        for handler in self._handlers:
            handler(event)

    # --- HTTP ---------------------------------------------------------------------------------
    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        if self._session is None:
            raise BrokerUnavailableError("toybroker is not connected")
        try:
            async with self._session.request(method, self._base + path, json=body) as response:
                payload = await response.json(content_type=None)
                status = response.status
        except aiohttp.ClientConnectorError as exc:  # nothing was sent
            raise BrokerUnavailableError(
                f"toybroker unreachable at {self._base}: {exc.os_error}"
            ) from None
        if status == 401:  # never echo the key: the API's message is enough
            raise ToyBrokerError("toybroker refused the API key (401)")
        if status == 503:  # the API's contract: 503 means the request was not processed
            raise BrokerUnavailableError(f"toybroker unavailable (503) for {method} {path}")
        return status, payload

    async def _get(self, path: str) -> Any:
        status, payload = await self._request("GET", path)
        if status != 200:
            raise ToyBrokerError(f"GET {path} answered {status}: {payload}")
        return payload

    # --- events -------------------------------------------------------------------------------
    async def _poll(self) -> None:
        while True:
            try:
                events = await self._get(f"/v1/events?after={self._seen}")
            except (BrokerUnavailableError, aiohttp.ClientError, TimeoutError) as exc:
                if self._link_up:
                    self._link_up = False
                    log.warning("toybroker link lost: %s", exc)
                    self._emit(ConnectionEvent(False, str(exc)))
            else:
                if not self._link_up:
                    self._link_up = True
                    self._emit(ConnectionEvent(True, "events poll answered again"))
                for raw in events:
                    self._seen = max(self._seen, int(raw["seq"]))
                    event = self._event(raw)
                    if event is not None:
                        self._emit(event)
            await asyncio.sleep(self.config.poll_interval)

    def _event(self, raw: dict[str, Any]) -> BrokerEvent | None:
        when = datetime.fromisoformat(raw["time"])
        if raw["type"] == "fill":
            fill = Fill(
                order_id=raw["client_order_id"],
                asset=raw["symbol"],
                side=OrderSide.BUY if raw["side"] == "buy" else OrderSide.SELL,
                quantity=float(raw["qty"]),
                price=float(raw["price"]),
                timestamp=when,
            )
            return FillEvent(
                fill, order_complete=bool(raw["complete"]), execution_id=raw["execution_id"]
            )
        if raw["type"] == "status" and raw["status"] in _STATUS:
            return OrderStatusEvent(
                raw["client_order_id"], _STATUS[raw["status"]], when, raw.get("reason")
            )
        log.warning("toybroker: ignoring unknown event type %r", raw.get("type"))
        return None

    # --- queries ------------------------------------------------------------------------------
    async def get_account(self) -> AccountSnapshot:
        body = await self._get("/v1/account")
        return AccountSnapshot(
            cash=float(body["cash"]),
            equity=float(body["equity"]),
            buying_power=float(body["buying_power"]),
        )

    async def get_positions(self) -> dict[str, Position]:
        now = datetime.now(UTC)
        return {
            p["symbol"]: Position(
                asset=p["symbol"],
                quantity=float(p["qty"]),
                entry_price=float(p["avg_price"]),
                entry_time=now,
                current_price=p.get("price"),
            )
            for p in await self._get("/v1/positions")
        }

    async def get_open_orders(self) -> list[Order]:
        return [
            Order(
                o["symbol"],
                OrderSide.BUY if o["side"] == "buy" else OrderSide.SELL,
                float(o["qty"]),
                OrderType.LIMIT if o["type"] == "limit" else OrderType.MARKET,
                limit_price=o.get("limit_price"),
                order_id=o["client_order_id"],
            )
            for o in await self._get("/v1/orders")
        ]

    def get_multiplier(self, asset: str) -> float:
        return 1.0  # ToyBroker trades shares only

    # --- orders -------------------------------------------------------------------------------
    async def submit_order(self, order: Order) -> Order:
        order = copy.copy(order)
        if order.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            return self._rejected(order, f"toybroker has no {order.order_type.value} orders")
        status, body = await self._request(
            "POST",
            "/v1/orders",
            {
                "client_order_id": order.order_id,
                "symbol": order.asset,
                "side": "buy" if order.side is OrderSide.BUY else "sell",
                "qty": order.quantity,
                "type": order.order_type.value,
                "limit_price": order.limit_price,
            },
        )
        if status == 422:
            return self._rejected(order, f"toybroker rejected the order: {body.get('error')}")
        if status not in (200, 201):
            raise ToyBrokerError(f"POST /v1/orders answered {status}: {body}")
        order.status = OrderStatus.PENDING
        return order

    def _rejected(self, order: Order, reason: str) -> Order:
        order.reject(reason, "broker_rejected")
        self._emit(
            OrderStatusEvent(order.order_id, OrderStatus.REJECTED, datetime.now(UTC), reason)
        )
        return order

    async def cancel_order(self, client_order_id: str) -> bool:
        status, _ = await self._request("DELETE", f"/v1/orders/{client_order_id}")
        return status == 200

    async def modify_order(self, client_order_id: str, **changes: float) -> bool:
        return False  # the API has no amend endpoint: a modification is refused

    async def close_position(self, asset: str) -> Order | None:
        return None  # the API has no close endpoint

    async def on_bar(self, timestamp: datetime, data: dict[str, dict[str, Any]]) -> None:
        return None  # a real venue fills against its own market, not our bars
