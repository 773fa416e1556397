"""IBDataFeed: 5-second real-time bars per asset from IB (wrap with the aggregator for N-minute
bars), historical bars for warm-up; market-data errors at start-up are errors, not silent gaps."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import ib_async

from ml4t_live_core.errors import BrokerUnavailableError, FeedError
from ml4t_live_core.protocols import BarEvent
from ml4t_live_ib.config import IBFeedConfig
from ml4t_live_ib.connection import RESTORED_DATA_LOST, IBConnection, mask_accounts
from ml4t_live_ib.contracts import ContractCache

log = logging.getLogger(__name__)

#: IB codes that mean "you will get no data for this request" (permissions, no data, bad contract)
MARKET_DATA_ERRORS = frozenset({162, 200, 321, 354, 420, 10089, 10090, 10167, 10168, 10186, 10197})
_STOP = object()


class MarketDataError(FeedError):
    """IB refused market data for an asset (no permission, no data, unknown contract)."""


class IBDataFeed:
    """`async for timestamp, data, context in feed`: one event per IB 5-second bar."""

    realtime = True

    def __init__(self, config: IBFeedConfig, *, ib: ib_async.IB | None = None):
        self.config = config
        self.conn = IBConnection(config, ib)
        self.ib = self.conn.ib
        self.contracts = ContractCache(self.ib, config)
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=config.queue_size)
        self._subscriptions: dict[str, ib_async.RealTimeBarList] = {}
        self._tickers: dict[str, ib_async.Ticker] = {}
        self._errors: dict[int, tuple[int, str]] = {}
        self.dropped = 0
        self._active = False
        self._tasks: set[asyncio.Task] = set()
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected

    async def start(self) -> None:
        await self.conn.open()
        await self._subscribe()
        self._active = True

    async def stop(self) -> None:
        self._active = False
        self._drop_tickers()
        for bars in self._subscriptions.values():
            bars.updateEvent -= self._on_bars
            if self.ib.isConnected():
                self.ib.cancelRealTimeBars(bars)
        self._subscriptions.clear()
        await self.conn.close()
        self._put(_STOP)

    async def _subscribe(self) -> None:
        """Subscribe every asset; any market-data error for them fails the start, naming it."""
        self._errors.clear()
        requests: dict[str, int] = {}
        for asset in self.config.assets:
            contract = await self.contracts.qualify(asset)
            if self.config.source == "ticks":
                ticker = self.ib.reqTickByTickData(contract, "Last")
                ticker.updateEvent += self._on_ticker
                self._tickers[asset] = ticker
                requests[asset] = next(
                    r for r, t in self.ib.wrapper.reqId2Ticker.items() if t is ticker
                )
                continue
            bars = self.ib.reqRealTimeBars(
                contract, 5, self.config.what_to_show, self.config.use_rth
            )
            bars.updateEvent += self._on_bars
            self._subscriptions[asset] = bars
            requests[asset] = bars.reqId
        await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.config.request_timeout)
        failed = {a: self._errors[r] for a, r in requests.items() if r in self._errors}
        if failed:
            detail = "; ".join(f"{a}: IB {code} {text}" for a, (code, text) in failed.items())
            raise MarketDataError(f"IB refused market data for {len(failed)} asset(s): {detail}")

    def _on_error(self, req_id: int, code: int, text: str, contract: object) -> None:
        text = mask_accounts(text)  # it may end up in a start-up error and the logs
        if code in MARKET_DATA_ERRORS:
            self._errors[req_id] = (code, text)
            if any(b.reqId == req_id for b in self._subscriptions.values()):
                log.error("IB market data error %d for request %d: %s", code, req_id, text)
        elif code == RESTORED_DATA_LOST:
            task = asyncio.get_running_loop().create_task(self._resubscribe())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_bars(self, bars: ib_async.RealTimeBarList, has_new_bar: bool) -> None:
        if not has_new_bar or not bars:
            return
        bar = bars[-1]
        del bars[:-1]  # ib_async keeps every bar of a subscription (17,280 a day); one is read
        asset = next((a for a, b in self._subscriptions.items() if b is bars), None)
        if asset is None:
            return
        timestamp = _aware(bar.time)
        payload = {
            "open": bar.open_,
            "high": bar.high,
            "low": bar.low,
            "close": bar.close,
            "volume": float(bar.volume),
            "timestamp": timestamp,
        }
        self._put((timestamp, {asset: payload}, {"source": "ib_realtime_bars", "bar_seconds": 5}))

    def _on_ticker(self, ticker: ib_async.Ticker) -> None:
        asset = next((a for a, t in self._tickers.items() if t is ticker), None)
        ticks = [
            t
            for t in ticker.tickByTicks
            if isinstance(t, ib_async.TickByTickAllLast) and t.price > 0
        ]
        if asset is None or not ticks:
            return
        payload = [
            {"price": t.price, "size": float(t.size), "timestamp": _aware(t.time)} for t in ticks
        ]
        self._put((payload[-1]["timestamp"], {asset: payload}, {"source": "ib_ticks"}))

    def _drop_tickers(self) -> None:
        for ticker in self._tickers.values():
            ticker.updateEvent -= self._on_ticker
            if self.ib.isConnected() and ticker.contract is not None:
                self.ib.cancelTickByTickData(ticker.contract, "Last")
        self._tickers.clear()

    def _put(self, item: object) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1  # counted and logged, never silent
            log.error(
                "IB feed queue full (%d); dropped a bar (total %d)",
                self.config.queue_size,
                self.dropped,
            )

    def _on_disconnected(self) -> None:
        if self._active and not self.conn.closing:
            self.conn.reconnect_soon(self._resubscribe, self._gave_up)

    async def _resubscribe(self) -> None:
        for bars in self._subscriptions.values():
            bars.updateEvent -= self._on_bars
        self._subscriptions.clear()
        for ticker in self._tickers.values():
            ticker.updateEvent -= self._on_ticker
        self._tickers.clear()
        await self._subscribe()

    def _gave_up(self, reason: str) -> None:
        self._put(BrokerUnavailableError(f"IB feed lost its connection: {reason}"))

    def __aiter__(self) -> AsyncIterator[BarEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BarEvent]:
        while True:
            item = await self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    async def history(self, bars: int) -> list[BarEvent]:
        """The last `bars` bars of `history_bar_size` per asset, merged by time, oldest first."""
        if bars <= 0:
            return []
        seconds = bars * self.config.history_bar_seconds
        duration = f"{seconds} S" if seconds <= 86_400 else f"{math.ceil(seconds / 86_400)} D"
        merged: dict[datetime, dict[str, dict[str, float]]] = {}
        for asset in self.config.assets:
            contract = await self.contracts.qualify(asset)
            before = set(self._errors)
            result = await asyncio.wait_for(
                self.ib.reqHistoricalDataAsync(
                    contract,
                    "",
                    duration,
                    self.config.history_bar_size,
                    self.config.what_to_show,
                    self.config.use_rth,
                    formatDate=2,
                ),
                self.config.request_timeout,
            )
            if not result:
                errors = [
                    f"IB {code} {text}"
                    for key, (code, text) in self._errors.items()
                    if key not in before
                ]
                raise MarketDataError(
                    f"IB returned no historical bars for {asset!r} "
                    f"({duration}, {self.config.history_bar_size})"
                    + (f": {'; '.join(errors)}" if errors else "")
                )
            for bar in result:
                when = (
                    bar.date
                    if isinstance(bar.date, datetime)
                    else datetime(bar.date.year, bar.date.month, bar.date.day)
                )
                when = when if when.tzinfo else when.replace(tzinfo=UTC)
                merged.setdefault(when, {})[asset] = {
                    "open": bar.open,
                    "high": bar.high,
                    "low": bar.low,
                    "close": bar.close,
                    "volume": float(bar.volume),
                }
        events = [(ts, data, {"source": "ib_history"}) for ts, data in sorted(merged.items())]
        return events[-bars:]


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)
