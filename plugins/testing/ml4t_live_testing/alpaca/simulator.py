"""`AlpacaSimulator`: a local Alpaca (REST + trading stream + data stream) on 127.0.0.1.

It runs on its own thread and event loop, like a remote server would: the real alpaca-py
clients, sync or async, talk to it over sockets. Every control method is thread-safe and
returns once the simulator has done what was asked (including streaming the updates).

    sim = AlpacaSimulator(api_key="k", secret_key="s").start()
    TradingClient("k", "s", url_override=sim.base_url)
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

import polars as pl
from aiohttp import web

from ml4t_live_core.clock import Clock, SystemClock
from ml4t_live_testing.alpaca import wire
from ml4t_live_testing.alpaca.book import SimAccount, SimOrder, TradeEvent
from ml4t_live_testing.alpaca.faults import HttpFault
from ml4t_live_testing.alpaca.server import SimServer

T = TypeVar("T")
CONTROL_TIMEOUT = 10.0


class AlpacaSimulator:
    """A fake Alpaca account that speaks Alpaca's wire formats, with faults on demand."""

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        cash: float = 100_000.0,
        auto_fill: bool = True,
        allow_short: bool = True,
        clock: Clock | None = None,
    ):
        self.account = SimAccount(
            cash=cash, clock=clock or SystemClock(), auto_fill=auto_fill, allow_short=allow_short
        )
        self.server = SimServer(self.account, api_key=api_key, secret_key=secret_key)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> AlpacaSimulator:
        if self._loop is not None:
            raise RuntimeError("the Alpaca simulator is already running")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="alpaca-simulator", daemon=True
        )
        self._thread.start()
        self._run(self._serve())
        return self

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.server.app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            self._run(self._shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            assert self._thread is not None
            self._thread.join(CONTROL_TIMEOUT)
            self._loop.close()
            self._loop = None

    async def _shutdown(self) -> None:
        await self.server.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> AlpacaSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The `url_override` for `TradingClient` and `StockHistoricalDataClient`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def trading_stream_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    def data_stream_url(self, feed: str = "iex") -> str:
        return f"ws://127.0.0.1:{self.port}/v2/{feed}"

    # --- market ---------------------------------------------------------------------------
    def set_price(self, symbol: str, price: float) -> None:
        """A trade at `price`: resting orders it crosses fill (when auto_fill is on)."""
        self._mutate(lambda: self.account.set_price(symbol, price))

    def stream_bars(self, bars: pl.DataFrame) -> None:
        """Play a long OHLCV frame (timestamp, asset, open, high, low, close, volume): per
        timestamp, orders fill against each bar, then the bars go out on the data stream."""
        self._run(self._stream_bars(bars))

    async def _stream_bars(self, bars: pl.DataFrame) -> None:
        for (timestamp,), group in bars.sort("timestamp").group_by(
            "timestamp", maintain_order=True
        ):
            batch = {row["asset"]: _bar(row) for row in group.iter_rows(named=True)}
            for symbol, bar in batch.items():
                self.server.history.setdefault(symbol, []).append((timestamp, bar))
                await self.server.publish(
                    self.account.set_price(symbol, bar["close"], high=bar["high"], low=bar["low"])
                )
            await self.server.send_bars(timestamp, batch)

    def stream_trades(self, trades: list[tuple[datetime, str, float, float]]) -> None:
        """Play trades (timestamp, symbol, price, size) in order: each moves the price (resting
        orders it crosses fill), then goes out to the data stream's trade subscribers."""

        async def play() -> None:
            for timestamp, symbol, price, size in trades:
                await self.server.publish(self.account.set_price(symbol, price))
                await self.server.send_trade(symbol.upper(), timestamp, price, size)

        self._run(play())

    def add_history(self, bars: pl.DataFrame) -> None:
        """Bars the historical endpoint serves (warm-up), without streaming them."""

        def add() -> None:
            for row in bars.sort("timestamp").iter_rows(named=True):
                self.server.history.setdefault(row["asset"], []).append(
                    (row["timestamp"], _bar(row))
                )
                self.account.prices[row["asset"]] = float(row["close"])

        self._call(add)

    # --- executions -----------------------------------------------------------------------
    def fill(self, client_order_id: str, *, price: float | None = None) -> None:
        """Fill what remains of the order (at `price`, else its limit or the last price)."""
        self._mutate(
            lambda: self.account.fill(
                self.account.order_by_client_id(client_order_id).id, price=price
            )
        )

    def partial_fill(self, client_order_id: str, qty: float, *, price: float | None = None) -> None:
        self._mutate(
            lambda: self.account.fill(
                self.account.order_by_client_id(client_order_id).id, qty, price
            )
        )

    def cancel(self, client_order_id: str) -> None:
        """Cancel from the broker's side (e.g. end of day for a day order)."""
        self._mutate(
            lambda: self.account.cancel(self.account.order_by_client_id(client_order_id).id)
        )

    def expire(self, client_order_id: str) -> None:
        """End the order as its time in force runs out ("expired" trade update)."""
        order_id = self.order(client_order_id).id
        self._mutate(lambda: self.account.expire(order_id))

    def resend_update(self, client_order_id: str, event: str = "fill") -> None:
        """Stream one more `event` update for the order as it stands (a late or repeated
        update; a fill carries the order's whole filled quantity and a new execution id).
        The account is unchanged."""

        def late() -> list[TradeEvent]:
            order = self.account.order_by_client_id(client_order_id)
            if event not in ("fill", "partial_fill"):
                return [TradeEvent(event, order, self.account.clock.now())]
            return [
                TradeEvent(
                    event,
                    order,
                    self.account.clock.now(),
                    order.filled_avg_price,
                    order.filled_qty,
                    execution_id=str(uuid.uuid4()),
                )
            ]

        self._mutate(late)

    def reject_next(self, count: int = 1) -> None:
        """Accept the next `count` orders, then reject them with a "rejected" trade update."""
        self._call(lambda: setattr(self.account, "reject_next", self.account.reject_next + count))

    # --- faults ---------------------------------------------------------------------------
    def fail_next(
        self,
        path: str = "/v2/orders",
        *,
        status: int = 500,
        method: str | None = None,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next matching requests with an HTTP error (500, 429 with Retry-After...)."""
        self._add_fault(
            HttpFault(path, method, status=status, retry_after=retry_after, times=times)
        )

    def delay_next(
        self, path: str, seconds: float, *, method: str | None = None, times: int = 1
    ) -> None:
        """Hold the next matching requests for `seconds` before handling them (a timeout)."""
        self._add_fault(HttpFault(path, method, delay=seconds, times=times))

    def delay_answer_next(
        self, path: str, seconds: float, *, method: str | None = None, times: int = 1
    ) -> None:
        """Handle the next matching requests at once, answer them `seconds` later."""
        self._add_fault(HttpFault(path, method, answer_delay=seconds, times=times))

    def drop_ack_next(
        self, path: str = "/v2/orders", *, method: str = "POST", times: int = 1
    ) -> None:
        """Accept the next order, then cut the connection: the client never sees the answer."""
        self._add_fault(HttpFault(path, method, drop_response=True, times=times))

    def _add_fault(self, fault: HttpFault) -> None:
        self._call(lambda: self.server.faults.http.append(fault))

    def duplicate_next_fill(self, count: int = 1) -> None:
        """Send the next `count` fill events twice (same execution id)."""
        self._call(
            lambda: setattr(
                self.server.faults, "duplicate_fills", self.server.faults.duplicate_fills + count
            )
        )

    def drop_trade_stream(self, *, refuse: int = 0) -> None:
        """Close every trade-updates connection; refuse the next `refuse` reconnect attempts.
        Trade updates produced while nobody listens are lost, as at Alpaca."""
        self._call(lambda: setattr(self.server.faults, "refuse_trade_streams", refuse))
        self._run(self.server.drop_trade_streams())

    def drop_data_stream(self) -> None:
        self._run(self.server.drop_data_streams())

    # --- inspection -----------------------------------------------------------------------
    def orders(self, client_order_id: str | None = None) -> list[dict[str, Any]]:
        """Every order the simulator holds (optionally one client id's), as Alpaca's JSON."""
        return self._call(
            lambda: [
                wire.order_json(o)
                for o in self.account.orders.values()
                if client_order_id is None or o.client_order_id == client_order_id
            ]
        )

    def open_orders(self) -> list[dict[str, Any]]:
        return self._call(lambda: [wire.order_json(o) for o in self.account.open_orders()])

    def positions(self) -> dict[str, float]:
        return self._call(lambda: {s: p.qty for s, p in self.account.positions.items()})

    @property
    def cash(self) -> float:
        return self._call(lambda: self.account.cash)

    def requests(self, method: str | None = None, path: str | None = None) -> list[tuple[str, str]]:
        return self._call(
            lambda: [
                r
                for r in self.server.requests
                if (method is None or r[0] == method) and (path is None or r[1] == path)
            ]
        )

    def submissions(self, client_order_id: str | None = None) -> list[str]:
        """Outcomes of the order submissions the simulator handled ("accepted" or the error)."""
        return self._call(
            lambda: [
                outcome
                for cid, outcome in self.server.submissions
                if client_order_id is None or cid == client_order_id
            ]
        )

    def trade_listeners(self) -> int:
        return self._call(lambda: len(self.server.trade_clients))

    def data_subscriptions(self) -> dict[str, int]:
        """How many data-stream clients subscribe to each symbol's bars."""

        def count() -> dict[str, int]:
            counts: dict[str, int] = {}
            for symbols in self.server.data_clients.values():
                for s in symbols:
                    counts[s] = counts.get(s, 0) + 1
            return counts

        return self._call(count)

    def trade_subscriptions(self) -> dict[str, int]:
        """How many data-stream clients subscribe to each symbol's trades."""

        def count() -> dict[str, int]:
            counts: dict[str, int] = {}
            for symbols in self.server.trade_subscribers.values():
                for s in symbols:
                    counts[s] = counts.get(s, 0) + 1
            return counts

        return self._call(count)

    def order(self, client_order_id: str) -> SimOrder:
        return self._call(lambda: self.account.order_by_client_id(client_order_id))

    # --- plumbing -------------------------------------------------------------------------
    def _mutate(self, change: Callable[[], list[TradeEvent]]) -> None:
        async def run() -> None:
            await self.server.publish(change())

        self._run(run())

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return self._run(run())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the Alpaca simulator is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CONTROL_TIMEOUT)


def _bar(row: dict[str, Any]) -> dict[str, float]:
    return {k: float(row[k]) for k in ("open", "high", "low", "close", "volume")}
