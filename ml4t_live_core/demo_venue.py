"""Simulated venues for `ml4t-live demo --broker <name>`: a plugin's local broker simulator,
driven through the ordinary broker and feed plugins, so the demo shows the real client path.

A venue comes from `ml4t_live_register_demo_venues`; the core never names one. It starts its
simulator on 127.0.0.1, returns the config that composes the broker and feed plugins against
it, and pumps the demo's bars into the simulator's market-data stream. The core runs the
engine meanwhile, and stops it once the last bar was processed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ml4t.backtest import OrderStatus, OrderType

from ml4t_live_core.plugins import Kind, Registry
from ml4t_live_core.stats import RuntimeStats

if TYPE_CHECKING:
    from ml4t_live_core.compose import Runtime

#: The demo's own venue: the embedded sim broker and synthetic feed (no simulator to start).
BUILT_IN = "sim"
#: Seconds one bar may take from the venue's send to the end of the strategy's `on_data`.
BAR_TIMEOUT = 20.0
#: Seconds the demo lets the broker report fills of a bar's orders before the next bar.
SETTLE_TIMEOUT = 2.0

#: Awaited by a venue after it sent bar `index` (0-based) and the feed can deliver it.
BarDone = Callable[[int], Awaitable[None]]


class DemoVenueError(RuntimeError):
    """The venue or its simulator did not do its part (no subscription, a bar never arrived)."""


@dataclass(frozen=True, slots=True)
class DemoSpec:
    """What the demo asks of a venue: assets in the random walk, bars to send, its seed."""

    assets: int
    bars: int
    seed: int = 11


@dataclass(frozen=True, slots=True)
class VenueAccount:
    """The simulator's own book (not the runtime's): cash and non-zero positions by asset."""

    cash: float
    positions: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class DemoVenue(Protocol):
    """A local simulator standing in for a broker, registered as `register("x-sim", factory)`.

    `factory(spec: DemoSpec)` builds it; `start()` runs the simulator (on its own thread, as
    a remote server would) and returns config overrides naming the broker and feed plugins;
    `pump()` runs on the engine's event loop; `account()` and `stop()` on the main thread.
    """

    #: What the demo asked for (the factory's argument).
    spec: DemoSpec
    #: Names of the broker and feed plugins the overrides compose, and feed wrappers if any;
    #: the demo checks they are installed before it starts anything.
    requires: Mapping[str, str]
    #: What to install when one is missing, e.g. 'pip install "ml4t-live[alpaca]"'.
    install_hint: str

    def start(self) -> Mapping[str, Any]:
        """Start the simulator; return `[broker]` and `[feed]` tables as a config file would."""
        ...

    async def pump(self, bar_done: BarDone) -> None:
        """Wait for the feed to subscribe, then send `spec.bars` bars of every asset; after
        sending what lets bar i out of the feed, `await bar_done(i)` (it paces the market)."""
        ...

    def account(self) -> VenueAccount:
        """Cash and positions as the simulator books them."""
        ...

    def stop(self) -> None:
        """Stop the simulator and undo what `start` changed (environment variables)."""
        ...


_KIND_OF_REQUIREMENT = {"broker": Kind.BROKER, "feed": Kind.FEED, "feed_wrapper": Kind.FEED_WRAPPER}


def venue_names(registry: Registry) -> list[str]:
    """Every name `demo --broker` accepts: the built-in sim first, then registered venues."""
    return [BUILT_IN, *(name for name in registry.names(Kind.DEMO_VENUE) if name != BUILT_IN)]


def missing_requirements(venue: DemoVenue, registry: Registry) -> list[str]:
    """The plugins a venue composes that are not installed, as "broker 'alpaca'"."""
    missing = []
    for kind_name, name in venue.requires.items():
        kind = _KIND_OF_REQUIREMENT[kind_name]
        if name not in registry.names(kind):
            missing.append(f"{kind.value} {name!r}")
    return missing


async def drive(
    runtime: Runtime, venue: DemoVenue, *, install_signal_handlers: bool = True
) -> RuntimeStats:
    """Run the engine while the venue pumps its bars; stop it after the last one is processed."""
    engine = runtime.engine
    done = 0
    progressed = asyncio.Event()
    on_bar_done = engine._on_bar_done

    def count(timestamp: datetime, stats: RuntimeStats) -> None:
        nonlocal done
        done += 1
        progressed.set()
        if on_bar_done is not None:
            on_bar_done(timestamp, stats)

    engine._on_bar_done = count

    async def bar_done(index: int) -> None:
        deadline = time.monotonic() + BAR_TIMEOUT
        while done <= index:
            progressed.clear()
            if engine_task.done():
                return  # the engine ended early (a stop, an error): run() reports why
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DemoVenueError(
                    f"bar {index + 1} did not reach the strategy within {BAR_TIMEOUT:g} s"
                )
            try:
                await asyncio.wait_for(progressed.wait(), min(remaining, 0.2))
            except TimeoutError:
                continue
        await _settle(runtime)

    engine_task = asyncio.create_task(engine.run(install_signal_handlers=install_signal_handlers))
    pump_task = asyncio.create_task(venue.pump(bar_done))
    try:
        await asyncio.wait({engine_task, pump_task}, return_when=asyncio.FIRST_COMPLETED)
        if pump_task.done() and not engine_task.done():
            failure = pump_task.exception()
            engine.request_stop(
                f"demo venue failed: {failure}" if failure else f"demo: all {done} bars processed"
            )
        stats = await engine_task  # the engine's own error wins: it is the first cause
    finally:
        pump_task.cancel()  # the engine ended first (a signal, an error): nothing left to pump
        await asyncio.gather(pump_task, return_exceptions=True)
    failure = None if pump_task.cancelled() else pump_task.exception()
    if isinstance(failure, DemoVenueError):
        raise failure
    if failure is not None:
        raise DemoVenueError(f"the demo venue failed: {failure!r}") from failure
    return stats


async def _settle(runtime: Runtime) -> None:
    """Give the broker a moment to report fills of open market orders (milliseconds at a
    simulator), so a bar's orders fill at that bar's prices; resting limit orders may rest."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline and any(
        o.status is OrderStatus.PENDING and o.order_type is OrderType.MARKET
        for o in runtime.safe._orders.values()
    ):
        await asyncio.sleep(0.005)
