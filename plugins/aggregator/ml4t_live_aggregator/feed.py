"""AggregatingFeed: the DataFeed wrapper that turns any inner feed's ticks or bars into
N-minute bars.

A pump task reads the inner feed and folds every event into a `BarAggregator`; bars it completes
go through a bounded `BarQueue` to the consumer. For live (realtime) feeds a timer task flushes
the stuck bar: it sleeps until `next_deadline()` on the injected clock, or until a new tick
changes the deadline. Tests inject a ManualClock and a `sleep` that moves it, so nothing sleeps
for real. When the inner feed ends, a replay emits what is pending; a live feed emits the bars
that are over and discards (and counts) a partial one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import polars as pl

from ml4t_live_aggregator.aggregator import AggregatorStats, BarAggregator
from ml4t_live_aggregator.backpressure import BarQueue, QueueClosed
from ml4t_live_aggregator.batch import add_batch
from ml4t_live_aggregator.config import AggregatorConfig
from ml4t_live_aggregator.inputs import InvalidTickError
from ml4t_live_core.clock import Clock, SystemClock
from ml4t_live_core.protocols import BarEvent, DataFeed

log = logging.getLogger("ml4t_live.aggregator")

Sleep = Callable[[float], Awaitable[Any]]


class AggregatingFeed:
    """Wraps `inner` (any DataFeed); yields one event per completed bar, labelled per config.

    An inner event's data may also be a polars DataFrame of ticks (timestamp, asset, price,
    size), which takes the vectorised path.
    """

    def __init__(
        self,
        config: AggregatorConfig,
        inner: DataFeed,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ):
        self.config = config
        self.inner = inner
        self.realtime = inner.realtime
        self.clock = clock or SystemClock()
        self.aggregator = BarAggregator(config)
        self._sleep = sleep or asyncio.sleep
        self._queue = BarQueue(config.max_pending_bars, config.backpressure, self.aggregator.stats)
        self._output = asyncio.Lock()  # bars enter the queue in the order the aggregator made them
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def stats(self) -> AggregatorStats:
        return self.aggregator.stats

    @property
    def waiting(self) -> int:
        """Bars completed and not yet taken by the consumer."""
        return len(self._queue)

    async def start(self) -> None:
        await self.inner.start()
        self._tasks = [asyncio.create_task(self._pump(), name="aggregator-pump")]
        if self.realtime:
            self._tasks.append(asyncio.create_task(self._timer(), name="aggregator-flush"))

    async def stop(self) -> None:
        try:
            await self.inner.stop()
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._queue.close()

    def __aiter__(self) -> AsyncIterator[BarEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BarEvent]:
        if not self._tasks:
            raise RuntimeError("AggregatingFeed: call start() before iterating")
        while True:
            try:
                yield await self._queue.get()
            except QueueClosed:
                return

    async def history(self, bars: int) -> list[BarEvent]:
        """The last `bars` aggregated bars for warm-up, built from the inner feed's history.

        The inner feed's bar length is unknown, so the request grows until enough complete
        bars came out or the inner feed has no more. A live bar still in progress, and a first
        bar the history starts inside of, are left out.
        """
        fetch = getattr(self.inner, "history", None)
        if fetch is None or bars <= 0:
            return []
        wanted = bars
        for _ in range(8):
            source = list(await fetch(wanted))
            agg = BarAggregator(self.config)
            out: list[BarEvent] = []
            for timestamp, data, _context in source:
                if isinstance(data, dict):
                    out += agg.add_event(timestamp, data)
            out += agg.finish(self.clock.now() if self.realtime else None)
            if out and source and source[0][0] > out[0][2]["bar_start"]:
                out = out[1:]  # the history starts inside this bar: it would be partial
            if len(out) >= bars or len(source) < wanted:
                return out[-bars:]
            wanted *= 4
        return out[-bars:]

    async def poll(self) -> int:
        """Flush stuck bars due at `clock.now()` into the queue; returns how many."""
        async with self._output:
            events = self.aggregator.poll(self.clock.now())
            for event in events:
                await self._queue.put(event)
        return len(events)

    async def _pump(self) -> None:
        try:
            agg = self.aggregator
            output = self._output
            async for timestamp, data, _context in self.inner:
                opened = agg.intervals_opened
                if output.locked():  # the timer is putting bars: fold after them
                    async with output:
                        for event in self._fold(timestamp, data):
                            await self._queue.put(event)
                else:
                    events = self._fold(timestamp, data)
                    if events:
                        async with output:  # free, so taken at once: nothing ran since the fold
                            for event in events:
                                await self._queue.put(event)
                if agg.intervals_opened != opened:
                    self._wake.set()  # a new interval may have an earlier flush deadline
            async with self._output:
                for event in self.aggregator.finish(self.clock.now() if self.realtime else None):
                    await self._queue.put(event)
            await self._queue.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("aggregator: the inner feed failed")
            await self._queue.close(exc)

    def _fold(self, timestamp: Any, data: Any) -> list[BarEvent]:
        now = self.clock.now() if self.realtime else None
        if type(data) is dict:  # the per-tick case first: it is the one that runs a million times
            return self.aggregator.add_event(timestamp, data, now)
        if isinstance(data, pl.DataFrame):
            try:
                return add_batch(self.aggregator, data, now)
            except InvalidTickError as exc:
                self.aggregator.reject(str(exc))
                return []
        if not isinstance(data, dict):
            self.aggregator.reject(
                f"event at {timestamp}: data is {type(data).__name__}, not a dict of assets"
            )
            return []
        return self.aggregator.add_event(timestamp, data, now)

    async def _timer(self) -> None:
        try:
            while True:
                self._wake.clear()
                deadline = self.aggregator.next_deadline()
                if deadline is None:
                    await self._wake.wait()
                    continue
                delay = (deadline - self.clock.now()).total_seconds()
                if delay > 0:
                    await self._sleep_or_wake(delay)
                    continue
                await self.poll()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("aggregator: the flush timer failed")
            await self._queue.close(exc)

    async def _sleep_or_wake(self, delay: float) -> None:
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)
