"""The simulator's aiohttp application: Alpaca's REST routes, trading stream and data stream.

Everything here runs on the simulator's own event loop; `AlpacaSimulator` is the
thread-safe handle tests use.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from ml4t_live_testing.alpaca import wire
from ml4t_live_testing.alpaca.book import SimAccount, SimRejection, TradeEvent
from ml4t_live_testing.alpaca.faults import Faults

log = logging.getLogger("ml4t_live_testing.alpaca")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SimServer:
    """REST + websockets over one `SimAccount`, with faults applied on the way in and out."""

    def __init__(self, account: SimAccount, *, api_key: str, secret_key: str):
        self.account = account
        self.faults = Faults()
        self._key, self._secret = api_key, secret_key
        #: Every REST request seen, as (method, path), for tests to count calls.
        self.requests: list[tuple[str, str]] = []
        #: Outcome of every order submission handled: (client_order_id, "accepted" | error message).
        self.submissions: list[tuple[str, str]] = []
        self.trade_clients: set[web.WebSocketResponse] = set()
        self.data_clients: dict[web.WebSocketResponse, set[str]] = {}
        #: Trade subscriptions per data-stream client (bars are in `data_clients`).
        self.trade_subscribers: dict[web.WebSocketResponse, set[str]] = {}
        self._trade_ids = 0
        #: Bars by symbol, for the historical endpoint: (timestamp, bar).
        self.history: dict[str, list[tuple[datetime, dict[str, float]]]] = {}
        self.app = web.Application(middlewares=[self._middleware])
        self.app.add_routes(
            [
                web.get("/v2/account", self.get_account),
                web.get("/v2/positions", self.get_positions),
                web.get("/v2/positions/{symbol}", self.get_position),
                web.delete("/v2/positions/{symbol}", self.close_position),
                web.post("/v2/orders", self.post_order),
                web.get("/v2/orders", self.get_orders),
                web.delete("/v2/orders", self.cancel_all),
                web.get("/v2/orders:by_client_order_id", self.get_order_by_client_id),
                web.get("/v2/orders/{order_id}", self.get_order),
                web.patch("/v2/orders/{order_id}", self.replace_order),
                web.delete("/v2/orders/{order_id}", self.cancel_order),
                web.get("/v2/stocks/bars", self.get_bars),
                web.get("/stream", self.trade_stream),
                web.get("/v2/{feed:iex|sip}", self.data_stream),
            ]
        )

    # --- auth and faults --------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in ("/stream",) or request.path.startswith(("/v2/iex", "/v2/sip")):
            return await handler(request)  # streams authenticate inside the protocol
        self.requests.append((request.method, request.path))
        if (
            request.headers.get("APCA-API-KEY-ID") != self._key
            or request.headers.get("APCA-API-SECRET-KEY") != self._secret
        ):
            return _error(401, 40110000, "request is not authorized")
        fault = self.faults.take(request.method, request.path)
        if fault is None:
            return await handler(request)
        if fault.delay:
            await request.read()  # the request arrived whole; only the server is slow
            await asyncio.sleep(fault.delay)  # network latency, on the simulator's loop only
        if fault.status is not None:
            headers = (
                {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
            )
            return _error(fault.status, fault.status * 100_000, "injected fault", headers=headers)
        response = await handler(request)
        if fault.answer_delay:
            await asyncio.sleep(fault.answer_delay)  # done already; only the answer is late
        if fault.drop_response:
            assert request.transport is not None
            request.transport.abort()  # the request took effect; its answer never arrives
        return response

    # --- account and positions --------------------------------------------------------------
    async def get_account(self, request: web.Request) -> web.Response:
        return web.json_response(wire.account_json(self.account))

    async def get_positions(self, request: web.Request) -> web.Response:
        acct = self.account
        return web.json_response(
            [wire.position_json(s, p, acct.prices.get(s)) for s, p in acct.positions.items()]
        )

    async def get_position(self, request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"].upper()
        position = self.account.positions.get(symbol)
        if position is None:
            return _error(404, 40410000, "position does not exist")
        return web.json_response(
            wire.position_json(symbol, position, self.account.prices.get(symbol))
        )

    async def close_position(self, request: web.Request) -> web.Response:
        return await self._order_call(
            lambda: self.account.close_position(request.match_info["symbol"])
        )

    # --- orders ---------------------------------------------------------------------------
    async def post_order(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return _error(422, 40010001, "request body must be a JSON object")
        response = await self._order_call(lambda: self.account.submit(body))
        outcome = (
            "accepted"
            if response.status == 200
            else json.loads(response.text or "{}").get("message", "?")
        )
        self.submissions.append((str(body.get("client_order_id")), outcome))
        return response

    async def replace_order(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return await self._order_call(
            lambda: self.account.replace(request.match_info["order_id"], body or {})
        )

    async def _order_call(self, call: Callable[[], tuple[Any, list[TradeEvent]]]) -> web.Response:
        try:
            order, events = call()
        except SimRejection as exc:
            return _error(exc.status, exc.code, exc.message)
        await self.publish(events)
        return web.json_response(wire.order_json(order))

    async def get_orders(self, request: web.Request) -> web.Response:
        status = request.query.get("status", "open")
        orders = list(self.account.orders.values())
        if status == "open":
            orders = [o for o in orders if o.is_open]
        elif status == "closed":
            orders = [o for o in orders if not o.is_open]
        symbols = request.query.get("symbols")
        if symbols:
            wanted = set(symbols.split(","))
            orders = [o for o in orders if o.symbol in wanted]
        orders.sort(
            key=lambda o: o.created_at, reverse=request.query.get("direction", "desc") == "desc"
        )
        limit = int(request.query.get("limit", 50))
        return web.json_response([wire.order_json(o) for o in orders[:limit]])

    async def get_order(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(
                wire.order_json(self.account.order(request.match_info["order_id"]))
            )
        except SimRejection as exc:
            return _error(exc.status, exc.code, exc.message)

    async def get_order_by_client_id(self, request: web.Request) -> web.Response:
        try:
            order = self.account.order_by_client_id(request.query.get("client_order_id", ""))
        except SimRejection as exc:
            return _error(exc.status, exc.code, exc.message)
        return web.json_response(wire.order_json(order))

    async def cancel_order(self, request: web.Request) -> web.Response:
        try:
            events = self.account.cancel(request.match_info["order_id"])
        except SimRejection as exc:
            return _error(exc.status, exc.code, exc.message)
        await self.publish(events)
        return web.Response(status=204)

    async def cancel_all(self, request: web.Request) -> web.Response:
        answers, events = [], []
        for order in self.account.open_orders():
            events += self.account.cancel(order.id)
            answers.append({"id": order.id, "status": 200})
        await self.publish(events)
        return web.json_response(answers, status=207)

    # --- historical bars ------------------------------------------------------------------
    async def get_bars(self, request: web.Request) -> web.Response:
        query = request.query
        symbols = [s for s in query.get("symbols", "").split(",") if s]
        if not symbols:
            return _error(422, 42210000, "symbols is required")
        if query.get("timeframe", "1Min") not in ("1Min", "1T"):
            return _error(422, 42210000, "the simulator serves 1Min bars only")
        start, end = _parse_time(query.get("start")), _parse_time(query.get("end"))
        descending = query.get("sort") == "desc"
        limit = int(query.get("limit") or 10_000)
        answer: dict[str, list[dict[str, Any]]] = {}
        for symbol in symbols:
            rows = [
                (t, b)
                for t, b in self.history.get(symbol, [])
                if (start is None or t >= start) and (end is None or t <= end)
            ]
            rows.sort(key=lambda row: row[0], reverse=descending)
            taken = rows[: max(limit - sum(map(len, answer.values())), 0)]
            if taken:
                answer[symbol] = [wire.bar_json(t, b) for t, b in taken]
        return web.json_response({"bars": answer, "next_page_token": None})

    # --- trading stream (JSON) ------------------------------------------------------------
    async def trade_stream(self, request: web.Request) -> web.StreamResponse:
        if self.faults.refuse_trade_streams > 0:
            self.faults.refuse_trade_streams -= 1
            return web.Response(status=503, text="stream unavailable (injected)")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            try:
                msg = json.loads(message.data)
            except ValueError:
                await ws.send_json({"stream": "error", "data": {"error_message": "invalid JSON"}})
                continue
            action, data = msg.get("action"), msg.get("data") or {}
            if action == "authenticate":
                ok = data.get("key_id") == self._key and data.get("secret_key") == self._secret
                await ws.send_json(
                    {
                        "stream": "authorization",
                        "data": {
                            "action": "authenticate",
                            "status": "authorized" if ok else "unauthorized",
                        },
                    }
                )
                if not ok:
                    break
            elif action == "listen":
                streams = list(data.get("streams") or [])
                if "trade_updates" in streams:
                    self.trade_clients.add(ws)
                await ws.send_json({"stream": "listening", "data": {"streams": streams}})
        self.trade_clients.discard(ws)
        return ws

    async def publish(self, events: list[TradeEvent]) -> None:
        """Stream trade updates to every listener; with nobody listening they are lost, as at
        Alpaca."""
        for event in events:
            text = json.dumps(wire.trade_update_json(event))
            copies = 1
            if event.execution_id is not None and self.faults.duplicate_fills > 0:
                self.faults.duplicate_fills -= 1
                copies = 2
            for ws in list(self.trade_clients):
                for _ in range(copies):
                    try:
                        await ws.send_str(text)
                    except (ConnectionError, RuntimeError):
                        self.trade_clients.discard(ws)

    async def drop_trade_streams(self) -> None:
        for ws in list(self.trade_clients):
            self.trade_clients.discard(ws)
            await ws.close(code=1011, message=b"dropped by the simulator")

    # --- market-data stream (msgpack) -----------------------------------------------------
    async def data_stream(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_bytes(wire.pack([{"T": "success", "msg": "connected"}]))
        authenticated = False
        async for message in ws:
            if message.type is not WSMsgType.BINARY and message.type is not WSMsgType.TEXT:
                break
            try:
                msg = (
                    msgpack.unpackb(message.data)
                    if message.type is WSMsgType.BINARY
                    else json.loads(message.data)
                )
            except ValueError:
                await ws.send_bytes(
                    wire.pack([{"T": "error", "code": 400, "msg": "invalid syntax"}])
                )
                continue
            action = msg.get("action")
            if action == "auth":
                authenticated = msg.get("key") == self._key and msg.get("secret") == self._secret
                reply = (
                    {"T": "success", "msg": "authenticated"}
                    if authenticated
                    else {"T": "error", "code": 402, "msg": "auth failed"}
                )
                await ws.send_bytes(wire.pack([reply]))
                if not authenticated:
                    break
            elif not authenticated:
                await ws.send_bytes(
                    wire.pack([{"T": "error", "code": 401, "msg": "not authenticated"}])
                )
            elif action in ("subscribe", "unsubscribe"):
                symbols = self.data_clients.setdefault(ws, set())
                trades = self.trade_subscribers.setdefault(ws, set())
                for subscribed, key in ((symbols, "bars"), (trades, "trades")):
                    change = set(msg.get(key) or [])
                    subscribed |= change if action == "subscribe" else set()
                    subscribed -= change if action == "unsubscribe" else set()
                await ws.send_bytes(
                    wire.pack(
                        [
                            {
                                "T": "subscription",
                                "trades": sorted(trades),
                                "quotes": [],
                                "bars": sorted(symbols),
                                "updatedBars": [],
                                "dailyBars": [],
                                "statuses": [],
                                "lulds": [],
                                "corrections": [],
                                "cancelErrors": [],
                            }
                        ]
                    )
                )
        self.data_clients.pop(ws, None)
        self.trade_subscribers.pop(ws, None)
        return ws

    async def send_bars(self, timestamp: datetime, bars: dict[str, dict[str, float]]) -> None:
        for ws, symbols in list(self.data_clients.items()):
            messages = [wire.bar_message(s, timestamp, b) for s, b in bars.items() if s in symbols]
            if messages:
                try:
                    await ws.send_bytes(wire.pack(messages))
                except (ConnectionError, RuntimeError):
                    self.data_clients.pop(ws, None)

    async def send_trade(self, symbol: str, timestamp: datetime, price: float, size: float) -> None:
        self._trade_ids += 1
        message = wire.pack([wire.trade_message(symbol, timestamp, price, size, self._trade_ids)])
        for ws, symbols in list(self.trade_subscribers.items()):
            if symbol in symbols:
                try:
                    await ws.send_bytes(message)
                except (ConnectionError, RuntimeError):
                    self.trade_subscribers.pop(ws, None)

    async def drop_data_streams(self) -> None:
        for ws in list(self.data_clients):
            self.data_clients.pop(ws, None)
            self.trade_subscribers.pop(ws, None)
            await ws.close(code=1011, message=b"dropped by the simulator")

    async def close_all(self) -> None:
        await self.drop_trade_streams()
        await self.drop_data_streams()


def _error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(wire.error_json(code, message), status=status, headers=headers)


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
