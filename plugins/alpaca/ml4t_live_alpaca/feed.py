"""AlpacaDataFeed: minute bars (or trades, for the aggregator) from Alpaca's market-data stream,
minute bars from the historical API for warm-up.

alpaca-py's `StockDataStream` runs its own event loop (`run()`), so it lives on a worker
thread and hands bars to the engine's loop; it reconnects and resubscribes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from alpaca.common.enums import Sort
from alpaca.data.enums import DataFeed as AlpacaFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.models import Bar, Trade
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from ml4t_live_alpaca.config import AlpacaFeedConfig
from ml4t_live_alpaca.credentials import load_credentials
from ml4t_live_alpaca.rest import AlpacaRequestError, RestCaller, Sleep, prepare_client
from ml4t_live_core.clock import Clock, SystemClock
from ml4t_live_core.errors import FeedError
from ml4t_live_core.protocols import BarEvent

log = logging.getLogger("ml4t_live.alpaca")


class AlpacaDataFeed:
    """One event per minute with the bars of every configured asset that traded in it."""

    realtime = True

    def __init__(
        self,
        config: AlpacaFeedConfig,
        *,
        environ: dict[str, str] | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ):
        self.config = cfg = config
        credentials = load_credentials(cfg.key_env, cfg.secret_env, environ)
        self._credentials = credentials
        feed = AlpacaFeed.IEX if cfg.feed == "iex" else AlpacaFeed.SIP
        self._stream = StockDataStream(
            credentials.key_id, credentials.secret, feed=feed, url_override=cfg.stream_url
        )
        # alpaca-py's reconnect backoff is fixed at 1-30 s; follow this plugin's settings instead.
        self._stream._reconnect_min_backoff = cfg.reconnect_initial_backoff
        self._stream._reconnect_max_backoff = cfg.reconnect_max_backoff
        history = StockHistoricalDataClient(
            credentials.key_id, credentials.secret, url_override=cfg.base_url
        )
        self._history = prepare_client(history, cfg.http_timeout)
        self._rest = RestCaller(cfg, credentials, sleep=sleep)
        self._clock = clock or SystemClock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[BarEvent | None] = asyncio.Queue()
        self._pending: dict[datetime, dict[str, dict[str, Any]]] = {}
        self._timers: dict[datetime, asyncio.TimerHandle] = {}
        self._last_emitted: datetime | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # alpaca-py types handlers for raw_data streams too (dicts); ours gets models only.
        if self.config.source == "trades":
            self._stream.subscribe_trades(
                self._on_stream_trade, *self.config.assets  # type: ignore[arg-type]
            )
        else:
            self._stream.subscribe_bars(
                self._on_stream_bar, *self.config.assets  # type: ignore[arg-type]
            )
        self._thread = threading.Thread(
            target=self._stream.run, name="alpaca-data-stream", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            # The stream's loop may not have started yet; stop_ws before it runs is honoured too.
            await asyncio.to_thread(self._stop_stream)
            self._thread = None
        self._queue.put_nowait(None)

    def _stop_stream(self) -> None:
        try:
            loop = self._stream._loop
            if loop is not None:
                self._stream.stop()
                # alpaca-py checks for a stop only between 5-second receive timeouts; closing
                # the socket wakes it now (it sees the stop flag and does not reconnect).
                with contextlib.suppress(RuntimeError, TimeoutError):  # already stopped: fine
                    closing = asyncio.run_coroutine_threadsafe(self._stream.close(), loop)
                    closing.result(self.config.stream_open_timeout)
            else:
                self._stream._stop_stream_queue.put_nowait({"should_stop": True})
        finally:
            if self._thread is not None:
                self._thread.join(self.config.stream_open_timeout)

    def __aiter__(self) -> AsyncIterator[BarEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BarEvent]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    # --- bars from the stream thread ------------------------------------------------------
    async def _on_stream_bar(self, bar: Bar) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._receive, bar.symbol, bar.timestamp, _ohlcv(bar))

    async def _on_stream_trade(self, trade: Trade) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(
            self._receive_trade,
            trade.symbol,
            trade.timestamp,
            float(trade.price),
            float(trade.size),
        )

    def _receive_trade(self, symbol: str, timestamp: datetime, price: float, size: float) -> None:
        """One trade as one tick event, in the shape the aggregator folds into bars."""
        if not (math.isfinite(price) and price > 0 and math.isfinite(size) and size >= 0):
            log.error(
                "alpaca: bad trade for %s at %s ignored: %s x %s", symbol, timestamp, price, size
            )
            return
        tick = {"price": price, "size": size, "timestamp": timestamp}
        # A tick list in place of a bar: the aggregator wrapping this feed folds it into bars.
        data: dict[str, Any] = {symbol: [tick]}
        context = {"source": "alpaca_trades", "feed": self.config.feed}
        self._queue.put_nowait((timestamp, data, context))

    def _receive(self, symbol: str, timestamp: datetime, values: dict[str, float]) -> None:
        """Group bars by minute; emit a minute when all assets arrived, a later minute began,
        or `bar_wait_seconds` passed. A bar older than one already emitted is dropped."""
        if self._last_emitted is not None and timestamp <= self._last_emitted:
            log.warning(
                "alpaca: late bar for %s at %s dropped (minute already delivered)",
                symbol,
                timestamp,
            )
            return
        if not all(math.isfinite(v) for v in values.values()) or values["close"] <= 0:
            log.error("alpaca: bad bar for %s at %s ignored: %s", symbol, timestamp, values)
            return
        group = self._pending.setdefault(timestamp, {})
        group[symbol] = values
        for earlier in sorted(t for t in self._pending if t < timestamp):
            self._flush(earlier)
        if len(group) == len(self.config.assets):
            self._flush(timestamp)
        elif timestamp not in self._timers and self._loop is not None:
            self._timers[timestamp] = self._loop.call_later(
                self.config.bar_wait_seconds, self._flush, timestamp
            )

    def _flush(self, timestamp: datetime) -> None:
        data = self._pending.pop(timestamp, None)
        timer = self._timers.pop(timestamp, None)
        if timer is not None:
            timer.cancel()
        if data:
            self._last_emitted = timestamp
            self._queue.put_nowait(
                (timestamp, data, {"source": "alpaca", "feed": self.config.feed})
            )

    # --- warm-up --------------------------------------------------------------------------
    async def history(self, bars: int) -> list[BarEvent]:
        """The last `bars` minute bars of every asset, grouped by minute, oldest first."""
        if bars <= 0:
            return []
        now = self._clock.now()
        by_time: dict[datetime, dict[str, dict[str, Any]]] = {}
        for asset in self.config.assets:
            request = StockBarsRequest(
                symbol_or_symbols=asset,
                timeframe=TimeFrame.Minute,
                limit=bars,
                sort=Sort.DESC,
                start=now - timedelta(days=self.config.history_lookback_days),
                end=now,
                feed=AlpacaFeed.IEX if self.config.feed == "iex" else AlpacaFeed.SIP,
            )
            try:
                barset = await self._rest.call(
                    self._history.get_stock_bars, request, what=f"history of {asset}"
                )
            except AlpacaRequestError as exc:  # e.g. no subscription for the SIP feed
                raise AlpacaFeedError(f"alpaca feed: no warm-up history: {exc}") from None
            for bar in barset.data.get(asset, []):
                by_time.setdefault(bar.timestamp, {})[asset] = _ohlcv(bar)
        times = sorted(by_time)[-bars:]
        return [(t, by_time[t], {"source": "alpaca-history"}) for t in times]


class AlpacaFeedError(FeedError):
    """Alpaca would not serve the data the feed config asks for; says what Alpaca answered."""


def _ohlcv(bar: Bar) -> dict[str, float]:
    return {
        "open": float(bar.open),
        "high": float(bar.high),
        "low": float(bar.low),
        "close": float(bar.close),
        "volume": float(bar.volume),
    }
