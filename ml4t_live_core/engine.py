"""LiveEngine: feed -> SafeBroker -> the strategy's callbacks, on one dedicated strategy thread.

The event loop owns all broker and safety state and never runs strategy code. Each callback
runs in one worker thread (the same thread every time, so thread-local state in strategies
is safe), one at a time; the loop keeps serving broker events and feeds meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ml4t.backtest import Strategy

from ml4t_live_core.clock import Clock, MarketClock
from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.protocols import BarEvent, DataFeed
from ml4t_live_core.risk import TradingState
from ml4t_live_core.safety import SafeBroker
from ml4t_live_core.stats import RuntimeStats
from ml4t_live_core.strategy_thread import StrategyThread
from ml4t_live_core.strategy_time import shown_context, timestamp_view
from ml4t_live_core.wrapper import ThreadSafeBrokerWrapper

log = logging.getLogger("ml4t_live.engine")


@dataclass(frozen=True, slots=True)
class LivePrepare:
    """The `config` a live run hands to `on_prepare`: warm-up bars (oldest first) and settings."""

    history: list[BarEvent]
    runtime: RuntimeConfig
    live: bool = True


class StrategyError(RuntimeError):
    """The strategy raised and the error policy is 'halt'."""


class LiveEngine:
    """Runs one strategy against one feed and one SafeBroker until the feed ends or a stop."""

    def __init__(
        self,
        strategy: Strategy,
        safe: SafeBroker,
        feed: DataFeed,
        *,
        runtime: RuntimeConfig,
        clock: Clock,
        stats: RuntimeStats | None = None,
        prepare_config: Any = None,
        on_bar_done: Callable[[datetime, RuntimeStats], None] | None = None,
        before_first_bar: Callable[[SafeBroker], Any] | None = None,
    ):
        self.strategy = strategy
        self.safe = safe
        self.feed = feed
        self.runtime = runtime
        self.clock = clock
        self.stats = stats or safe.stats
        self.prepare_config = prepare_config
        self._on_bar_done = on_bar_done
        self._before_first_bar = before_first_bar
        self._strategy_thread = StrategyThread()
        self._view = timestamp_view(runtime.strategy_timestamps, runtime.timezone)
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.wrapper: ThreadSafeBrokerWrapper | None = None

    # --- lifecycle -------------------------------------------------------------------------
    async def connect(self) -> ThreadSafeBrokerWrapper:
        """Load state, connect the broker, sync the account, start the feed."""
        self._loop = asyncio.get_running_loop()
        await self.safe.start()
        self.stats.connected = True
        self.stats.trading_state = self.safe.trading_state.value
        if self._before_first_bar is not None:
            result = self._before_first_bar(self.safe)
            if asyncio.iscoroutine(result):
                await result
        self.wrapper = ThreadSafeBrokerWrapper(
            self.safe,
            self._loop,
            order_timeout=self.runtime.order_timeout,
            getter_timeout=self.runtime.getter_timeout,
        )
        await self.feed.start()
        return self.wrapper

    async def run(self, *, install_signal_handlers: bool = True) -> RuntimeStats:
        """Connect, call on_start/on_prepare, dispatch every bar, then on_end, persist,
        disconnect."""
        wrapper = await self.connect()
        removers = self._install_signals() if install_signal_handlers else []
        self.safe.hooks.ml4t_live_on_run_start(stats=self.stats, context=self.safe)
        try:
            await self._start_strategy(wrapper)
            failure: StrategyError | None = None
            try:
                if self.runtime.busy_policy == "latest":
                    await self._consume_latest()
                else:
                    await self._consume_blocking()
            except StrategyError as exc:
                failure = exc
            await self._in_strategy_thread(self.strategy.on_end, wrapper)
            if failure is not None:
                raise failure
            wrapper.run_completion_validators(self.stats.bars)
        finally:
            for remove in removers:
                remove()
            self.safe.hooks.ml4t_live_on_run_end(stats=self.stats, context=self.safe)
            await self._shutdown()
        return self.stats

    async def _start_strategy(self, wrapper: ThreadSafeBrokerWrapper) -> None:
        """on_start, then on_prepare; an exception in either is a StrategyError (the run ends
        before any bar; no halt is persisted, since nothing traded)."""
        try:
            await self._in_strategy_thread(self.strategy.on_start, wrapper)
        except Exception as exc:
            log.exception("strategy on_start failed")
            raise StrategyError(f"on_start raised: {exc!r}") from exc
        prepare_config = await self._prepare_config()
        try:
            await self._in_strategy_thread(self.strategy.on_prepare, wrapper, prepare_config)
        except Exception as exc:
            log.exception("strategy on_prepare failed")
            raise StrategyError(f"on_prepare raised: {exc!r}") from exc

    async def _prepare_config(self) -> Any:
        """What `on_prepare(broker, config)` receives: the caller's object, else a LivePrepare
        with the feed's last `runtime.warmup_bars` bars so indicators are ready at bar one."""
        if self.prepare_config is not None:
            return self.prepare_config
        history: list[BarEvent] = []
        wanted = self.runtime.warmup_bars
        if wanted:
            fetch = getattr(self.feed, "history", None)
            if fetch is None:
                log.warning(
                    "warmup_bars = %d, but feed %s has no history(); starting cold",
                    wanted,
                    type(self.feed).__name__,
                )
            else:
                history = list(await fetch(wanted))
        return LivePrepare(history=history, runtime=self.runtime)

    def request_stop(self, reason: str = "stop requested") -> None:
        """Finish the current callback, then end cleanly (on_end, persist, disconnect)."""
        if self._stop_requested:
            return
        self._stop_requested = True
        self.stats.stop_reason = reason
        log.warning("stopping: %s", reason)
        if self._loop is not None:
            self._loop.create_task(self.feed.stop())

    async def _shutdown(self) -> None:
        try:
            await self.feed.stop()
        finally:
            await self.safe.stop()
            self.stats.connected = False
            self._strategy_thread.close()

    def _install_signals(self) -> list[Callable[[], object]]:
        loop = asyncio.get_running_loop()
        removers: list[Callable[[], object]] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop, f"signal {sig.name}")
            except (NotImplementedError, RuntimeError):  # not the main thread, or no unix signals
                continue
            removers.append(functools.partial(loop.remove_signal_handler, sig))
        return removers

    # --- dispatch --------------------------------------------------------------------------
    async def _consume_blocking(self) -> None:
        """Busy policy 'block': the feed is not read while the strategy works (every bar seen)."""
        async for event in self.feed:
            await self._dispatch(event)
            if self._stop_requested:
                break

    async def _consume_latest(self) -> None:
        """Busy policy 'latest': a bar that waits is replaced by a newer one; skips are counted."""
        waiting: BarEvent | None = None
        arrived = asyncio.Event()
        done = False

        async def produce() -> None:
            nonlocal waiting, done
            try:
                async for event in self.feed:
                    if waiting is not None:
                        self.stats.bars_skipped += 1
                        log.warning("strategy busy: skipped bar %s", waiting[0])
                    waiting = event
                    arrived.set()
            finally:
                done = True
                arrived.set()

        producer = asyncio.create_task(produce())
        try:
            while not self._stop_requested:
                if waiting is None:
                    if done:
                        break
                    arrived.clear()  # safe: the producer only runs while we await below
                    await arrived.wait()
                    continue
                event, waiting = waiting, None
                await self._dispatch(event)
        finally:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)

    async def _dispatch(self, event: BarEvent) -> None:
        timestamp, data, context = event
        if isinstance(self.clock, MarketClock) and not self.feed.realtime:
            self.clock.set(timestamp)
        await self.safe.on_bar(timestamp, data)
        assert self.wrapper is not None
        self.wrapper.begin_bar(timestamp, data)
        stats = self.stats
        stats.bars += 1
        stats.last_bar_time = timestamp
        lag = (self.clock.now() - timestamp).total_seconds()
        stats.last_lag_seconds = lag
        stats.max_lag_seconds = max(stats.max_lag_seconds, lag)
        stats.trading_state = self.safe.trading_state.value
        started = time.perf_counter()
        shown, shown_ctx = timestamp, context
        if self._view is not None:  # the strategy's view of time (`strategy_time`)
            shown, shown_ctx = self._view(timestamp), shown_context(context, self._view)
        try:
            await self._in_strategy_thread(
                self.strategy.on_data, shown, data, shown_ctx, self.wrapper
            )
        except Exception as exc:
            stats.errors += 1
            log.exception("strategy on_data failed at %s", timestamp)
            if self.runtime.on_error == "halt":
                self.safe.set_trading_state(
                    TradingState.HALTED, f"strategy error at {timestamp}: {exc!r}"
                )
                self.request_stop(f"strategy error: {exc!r}")
                raise StrategyError(f"on_data raised at {timestamp}: {exc!r}") from exc
        finally:
            self.safe.hooks.ml4t_live_on_bar_done(
                timestamp=timestamp,
                stats=stats,
                callback_seconds=time.perf_counter() - started,
                context=self.safe,
            )
        if self._on_bar_done is not None:
            self._on_bar_done(timestamp, stats)

    async def _in_strategy_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Like `asyncio.to_thread`, but always on the engine's one strategy thread."""
        return await self._strategy_thread.run(fn, *args)
