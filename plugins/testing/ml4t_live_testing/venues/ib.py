"""`ib-sim`: the IB gateway simulator behind the ordinary `ib` broker and feed plugins (the real
ib_async client), with the aggregator turning IB's per-asset real-time bars into one bar per step.

The gateway runs on its own thread and event loop, as a separate TWS process would; its
5-second real-time bars are stamped one second apart and aggregated into 1-second bars, so a
60-bar demo spans a minute of market time and none of it is stale.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ml4t_live_core.clock import SystemClock
from ml4t_live_core.demo_venue import BarDone, DemoSpec, VenueAccount
from ml4t_live_testing.ib.book import GatewayBook
from ml4t_live_testing.ib.contracts import DEFAULT_CONTRACTS, ContractBook, SimContract
from ml4t_live_testing.ib.gateway import IBGatewaySimulator
from ml4t_live_testing.venues.waiting import wait_until
from ml4t_live_testing.venues.walk import asset_names, random_walk

T = TypeVar("T")
CONTROL_TIMEOUT = 10.0
#: The aggregator refuses bars stamped more than `max_clock_skew` (5 s) ahead of the clock.
MAX_LEAD_SECONDS = 2
#: How far back the first bar is stamped: old enough to run ahead, young enough to be fresh.
MAX_BACKDATE_SECONDS = 120
FIRST_CON_ID = 800_000_001


class IBDemoVenue:
    """Starts an `IBGatewaySimulator` with $100,000 where market orders fill at the last price."""

    requires: Mapping[str, str] = {"broker": "ib", "feed": "ib", "feed_wrapper": "aggregate"}
    install_hint = (
        'pip install "ml4t-live[ib]" (the ml4t-live-ib plugin; the aggregator comes with ml4t-live)'
    )

    def __init__(self, spec: DemoSpec):
        self.spec = spec
        self.assets = asset_names(spec.assets)
        self.steps = random_walk(self.assets, spec.bars, spec.seed)
        contracts = ContractBook(DEFAULT_CONTRACTS)
        for i, asset in enumerate(self.assets):
            contracts.add(SimContract(FIRST_CON_ID + i, asset))
        self.gateway = IBGatewaySimulator(
            book=GatewayBook(cash=100_000.0), contracts=contracts, clock=SystemClock()
        )
        self.gateway.auto_fill_market = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> dict[str, Any]:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ib-gateway-simulator", daemon=True
        )
        self._thread.start()
        self._call(self.gateway.start)
        connection = {
            "port": self.gateway.port,
            "connect_timeout": 5.0,
            "request_timeout": 5.0,
            "reconnect_initial_delay": 0.1,
            "reconnect_max_delay": 1.0,
            # unset: the gateway's only managed account, whatever IB_ACCOUNT holds
            "account_env": "ML4T_LIVE_DEMO_IB_ACCOUNT",
        }
        return {
            "broker": {"use": "ib", "ib": {**connection, "client_id": 1}},
            "feed": {
                "use": "ib",
                "ib": {**connection, "client_id": 2, "assets": self.assets},
                # a 1-second bar is complete when the next one starts; the last is closed by
                # an extra bar (see pump), never by the wall clock (the stamps are backdated)
                "aggregate": "1s",
                "aggregator": {"flush_after": 3600.0, "assets": self.assets},
            },
        }

    async def pump(self, bar_done: BarDone) -> None:
        con_ids = {self.gateway.contracts.by_symbol(a).con_id for a in self.assets}

        async def subscribed() -> bool:
            return await self._acall(
                lambda: any(
                    con_ids <= set(s.bar_subscriptions.values()) for s in self.gateway.sessions
                )
            )

        await wait_until(
            subscribed,
            "the ib feed to subscribe to the gateway's real-time bars",
            timeout=15.0 + len(self.assets) / 40,  # the plugin paces requests at 45 per second
        )
        first = int(time.time()) - min(self.spec.bars, MAX_BACKDATE_SECONDS)
        for index, step in enumerate(self.steps):
            await self._send(first + index, step)
            if index:
                await bar_done(index - 1)  # bar index-1 is complete now that bar index began
        last = self.steps[-1]
        await self._send(
            first + len(self.steps),
            {
                a: {
                    "open": b["close"],
                    "high": b["close"],
                    "low": b["close"],
                    "close": b["close"],
                    "volume": 0.0,
                }
                for a, b in last.items()
            },
        )
        await bar_done(len(self.steps) - 1)

    async def _send(self, epoch: int, step: dict[str, dict[str, float]]) -> None:
        while epoch > time.time() + MAX_LEAD_SECONDS:  # long demos: let the wall clock catch up
            await asyncio.sleep(0.05)

        def push() -> None:
            for asset, bar in step.items():
                self.gateway.push_bar(
                    asset, epoch, bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]
                )

        await self._acall(push)

    def account(self) -> VenueAccount:
        def read() -> VenueAccount:
            book = self.gateway.book
            return VenueAccount(
                book.cash,
                {p.contract.symbol: p.quantity for p in book.positions.values() if p.quantity},
            )

        return self._call_sync(read)

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            self._call(self.gateway.stop)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(CONTROL_TIMEOUT)
            self._loop.close()
            self._loop = None

    # --- the gateway's thread -------------------------------------------------------------
    def _call(self, coro_fn: Callable[[], Any]) -> Any:
        assert self._loop is not None, "ib-sim: start() first"
        return asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result(CONTROL_TIMEOUT)

    def _call_sync(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return self._call(run)

    async def _acall(self, fn: Callable[[], T]) -> T:
        assert self._loop is not None, "ib-sim: start() first"

        async def run() -> T:
            return fn()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self._loop))
