"""The trade-updates websocket: authenticate, listen, hand each update on, reconnect with backoff.

alpaca-py's `TradingStream` reconnects by itself but tells nobody the stream was down, so
the runtime could not refuse orders or reconcile; this speaks the same small protocol
(authenticate, listen, trade_updates) and parses with alpaca-py's own `TradeUpdate` model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from alpaca.trading.models import TradeUpdate
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential,
)
from websockets.asyncio.client import ClientConnection, connect

from ml4t_live_alpaca.config import AlpacaConnection
from ml4t_live_alpaca.credentials import Credentials
from ml4t_live_alpaca.rest import Sleep

log = logging.getLogger("ml4t_live.alpaca")


class StreamUnavailableError(ConnectionError):
    """The trade-updates stream could not be opened or authenticated."""


class TradeUpdateStream:
    """One supervised connection to Alpaca's trading stream."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        config: AlpacaConnection,
        *,
        on_update: Callable[[TradeUpdate], None],
        on_up: Callable[[], Awaitable[None]],
        on_down: Callable[[str], None],
        sleep: Sleep | None = None,
    ):
        self.url = url
        self._credentials = credentials
        self._config = config
        self._on_update, self._on_up, self._on_down = on_update, on_up, on_down
        self._sleep = sleep or asyncio.sleep
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.up = False
        self.sessions = 0

    async def start(self) -> None:
        """Open the first session (a few attempts), then keep it alive in the background."""
        ws = await self._open(stop_after_attempt(self._config.retry_attempts))
        self._task = asyncio.create_task(self._supervise(ws), name="alpaca-trade-updates")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        self.up = False

    async def _supervise(self, ws: ClientConnection) -> None:
        while True:
            reason = await self._consume(ws)
            self.up = False
            self._on_down(reason)
            ws = await self._open(stop_never)

    async def _open(self, stop: Any) -> ClientConnection:
        """Connect, authenticate, listen, then let the broker reconcile before it is 'up'."""
        cfg = self._config
        async for attempt in AsyncRetrying(
            stop=stop,
            reraise=True,
            sleep=self._sleep,
            wait=wait_exponential(
                multiplier=cfg.reconnect_initial_backoff,
                min=cfg.reconnect_initial_backoff,
                max=cfg.reconnect_max_backoff,
            ),
            retry=retry_if_exception_type(Exception),
            before_sleep=self._log_retry,
        ):
            with attempt:
                try:
                    ws = await asyncio.wait_for(self._handshake(), cfg.stream_open_timeout)
                except StreamUnavailableError:
                    raise
                except Exception as exc:
                    raise StreamUnavailableError(
                        f"alpaca: trade stream {self.url}: {self._safe(exc)}"
                    ) from None
                try:
                    await self._on_up()
                except BaseException:
                    await ws.close()
                    raise
                self._ws, self.up = ws, True
                self.sessions += 1
                return ws
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _handshake(self) -> ClientConnection:
        ws = await connect(
            self.url,
            open_timeout=self._config.stream_open_timeout,
            ping_interval=10,
            ping_timeout=30,
        )
        try:
            await ws.send(
                json.dumps(
                    {
                        "action": "authenticate",
                        "data": {
                            "key_id": self._credentials.key_id,
                            "secret_key": self._credentials.secret,
                        },
                    }
                )
            )
            reply = json.loads(await ws.recv())
            if (reply.get("data") or {}).get("status") != "authorized":
                raise StreamUnavailableError(
                    "alpaca: the trade stream refused the credentials "
                    "(check the key id / secret environment variables)"
                )
            await ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            reply = json.loads(await ws.recv())
            if "trade_updates" not in ((reply.get("data") or {}).get("streams") or []):
                raise StreamUnavailableError(
                    "alpaca: the trade stream did not confirm listening to trade_updates"
                )
        except BaseException:
            await ws.close()
            raise
        return ws

    async def _consume(self, ws: ClientConnection) -> str:
        """Dispatch messages until the connection ends; returns why it ended."""
        try:
            async for raw in ws:
                self._dispatch(raw)
        except Exception as exc:
            return f"trade stream lost: {self._safe(exc)}"
        finally:
            self._ws = None
        return f"trade stream closed by the server (code {ws.close_code})"

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
            if msg.get("stream") != "trade_updates":
                return
            update = TradeUpdate(**msg["data"])
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            log.error("alpaca: unreadable trade update ignored: %s", self._safe(exc))
            return
        self._on_update(update)

    def _log_retry(self, state: RetryCallState) -> None:
        # tenacity calls before_sleep only after a failed attempt, so the outcome is set.
        assert state.outcome is not None
        log.warning(
            "alpaca: trade stream not available (%s); retrying",
            self._safe(state.outcome.exception()),
        )

    def _safe(self, exc: BaseException | None) -> str:
        return self._credentials.redact(f"{type(exc).__name__}: {exc}") if exc is not None else ""
