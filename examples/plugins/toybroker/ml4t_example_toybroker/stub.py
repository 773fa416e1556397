"""A local stub of the made-up ToyBroker REST API (127.0.0.1 only), for tests and the docs.

The API: bearer-key auth; GET /v1/account, /v1/positions, /v1/orders (open ones);
POST /v1/orders (idempotent by client_order_id); DELETE /v1/orders/{client_order_id};
GET /v1/events?after=N (status and fill events, in order). Test controls: POST /v1/quotes
{symbol, price} moves the market (market orders fill at the quote, limits when it crosses),
and `available = False` makes every request answer 503 (an outage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


@dataclass
class StubOrder:
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    limit_price: float | None
    status: str = "open"

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ToyExchange:
    """The stub's whole state: one account, quotes, orders and the event log."""

    api_key: str
    quotes: dict[str, float] = field(default_factory=dict)
    cash: float = 100_000.0
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)  # symbol -> qty, avg
    orders: dict[str, StubOrder] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    available: bool = True
    requests: int = 0

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        app.add_routes(
            [
                web.get("/v1/account", self._account),
                web.get("/v1/positions", self._positions),
                web.get("/v1/orders", self._open_orders),
                web.post("/v1/orders", self._submit),
                web.delete("/v1/orders/{cid}", self._cancel),
                web.get("/v1/events", self._events),
                web.post("/v1/quotes", self._quote),
            ]
        )
        return app

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests += 1
        if not self.available:
            return web.json_response({"error": "service unavailable"}, status=503)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": "bad api key"}, status=401)
        return await handler(request)

    # --- market -------------------------------------------------------------------------------
    def _event(self, kind: str, **body: Any) -> None:
        self.events.append(
            {
                "seq": len(self.events) + 1,
                "type": kind,
                "time": datetime.now(UTC).isoformat(),
                **body,
            }
        )

    def set_quote(self, symbol: str, price: float) -> None:
        self.quotes[symbol] = price
        for order in list(self.orders.values()):
            if order.status == "open" and order.symbol == symbol:
                self._try_fill(order)

    def _try_fill(self, order: StubOrder) -> None:
        price = self.quotes.get(order.symbol)
        if price is None:
            return
        if order.type == "limit":
            assert order.limit_price is not None
            crosses = (
                price <= order.limit_price if order.side == "buy" else price >= order.limit_price
            )
            if not crosses:
                return
        signed = order.qty if order.side == "buy" else -order.qty
        qty, avg = self.positions.get(order.symbol, (0.0, 0.0))
        new = qty + signed
        avg = (
            price
            if qty == 0 or (qty > 0) != (new > 0)
            else (avg * qty + price * signed) / new
            if new
            else 0.0
        )
        self.positions[order.symbol] = (new, avg)
        if new == 0:
            del self.positions[order.symbol]
        self.cash -= signed * price
        order.status = "filled"
        self._event(
            "fill",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            price=price,
            complete=True,
            execution_id=f"toy-x{len(self.events) + 1}",
        )

    # --- handlers -----------------------------------------------------------------------------
    async def _account(self, request: web.Request) -> web.Response:
        equity = self.cash + sum(
            q * self.quotes.get(s, avg) for s, (q, avg) in self.positions.items()
        )
        return web.json_response(
            {"cash": self.cash, "equity": equity, "buying_power": max(self.cash, 0)}
        )

    async def _positions(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"symbol": s, "qty": q, "avg_price": avg, "price": self.quotes.get(s)}
                for s, (q, avg) in self.positions.items()
            ]
        )

    async def _open_orders(self, request: web.Request) -> web.Response:
        return web.json_response([o.to_json() for o in self.orders.values() if o.status == "open"])

    async def _submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        cid = str(body.get("client_order_id", ""))
        if cid in self.orders:  # idempotent: the same client id is the same order
            return web.json_response(self.orders[cid].to_json(), status=200)
        try:
            qty = float(body["qty"])
            order = StubOrder(
                cid,
                str(body["symbol"]),
                str(body["side"]),
                qty,
                str(body["type"]),
                None if body.get("limit_price") is None else float(body["limit_price"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return web.json_response({"error": f"malformed order: {exc}"}, status=422)
        if (
            not cid
            or qty <= 0
            or order.side not in ("buy", "sell")
            or order.type not in ("market", "limit")
        ):
            return web.json_response({"error": "malformed order"}, status=422)
        if order.symbol not in self.quotes:
            return web.json_response({"error": f"unknown symbol {order.symbol}"}, status=422)
        self.orders[cid] = order
        self._event("status", client_order_id=cid, status="pending")
        self._try_fill(order)
        return web.json_response(order.to_json(), status=201)

    async def _cancel(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["cid"])
        if order is None or order.status != "open":
            return web.json_response({"error": "no open order with that id"}, status=404)
        order.status = "cancelled"
        self._event(
            "status",
            client_order_id=order.client_order_id,
            status="cancelled",
            reason="cancelled by client",
        )
        return web.json_response(order.to_json())

    async def _events(self, request: web.Request) -> web.Response:
        after = int(request.query.get("after", "0"))
        return web.json_response(self.events[after:])

    async def _quote(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.set_quote(str(body["symbol"]), float(body["price"]))
        return web.json_response({"ok": True})


async def serve(exchange: ToyExchange, port: int = 0) -> tuple[web.AppRunner, str]:
    """Start the stub on 127.0.0.1 (a free port by default); returns the runner and base URL."""
    runner = web.AppRunner(exchange.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    sockets = site._server.sockets  # type: ignore[union-attr]  # aiohttp keeps the bound port here
    return runner, f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
