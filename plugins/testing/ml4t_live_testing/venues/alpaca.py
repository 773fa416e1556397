"""`alpaca-sim`: the Alpaca simulator (REST, trade-updates stream, msgpack data stream) behind
the ordinary `alpaca` broker and feed plugins, i.e. the real alpaca-py clients."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from ml4t_live_core.demo_venue import BarDone, DemoSpec, VenueAccount
from ml4t_live_testing.alpaca import (
    FAKE_KEY_ID,
    FAKE_SECRET,
    AlpacaSimulator,
    alpaca_broker_settings,
    alpaca_feed_settings,
)
from ml4t_live_testing.venues.waiting import wait_until
from ml4t_live_testing.venues.walk import asset_names, random_walk

#: Own variable names, so a real key pair in APCA_API_KEY_ID is neither used nor overwritten.
KEY_ENV = "ML4T_LIVE_DEMO_APCA_KEY_ID"
SECRET_ENV = "ML4T_LIVE_DEMO_APCA_SECRET_KEY"


class AlpacaDemoVenue:
    """Starts an `AlpacaSimulator` with $100,000; market orders fill at the last bar's close."""

    requires: Mapping[str, str] = {"broker": "alpaca", "feed": "alpaca"}
    install_hint = 'pip install "ml4t-live[alpaca]" (the ml4t-live-alpaca plugin)'

    def __init__(self, spec: DemoSpec):
        self.spec = spec
        self.assets = asset_names(spec.assets)
        self.steps = random_walk(self.assets, spec.bars, spec.seed)
        self.sim: AlpacaSimulator | None = None

    def start(self) -> dict[str, Any]:
        self.sim = AlpacaSimulator(api_key=FAKE_KEY_ID, secret_key=FAKE_SECRET).start()
        os.environ[KEY_ENV], os.environ[SECRET_ENV] = FAKE_KEY_ID, FAKE_SECRET
        credentials = {"key_env": KEY_ENV, "secret_env": SECRET_ENV}
        return {
            "broker": {"use": "alpaca", "alpaca": alpaca_broker_settings(self.sim) | credentials},
            "feed": {
                "use": "alpaca",
                "alpaca": alpaca_feed_settings(self.sim, self.assets) | credentials,
            },
        }

    async def pump(self, bar_done: BarDone) -> None:
        sim = self._running()

        async def subscribed() -> bool:
            counts = await asyncio.to_thread(sim.data_subscriptions)
            return all(counts.get(a) for a in self.assets)

        await wait_until(subscribed, "the alpaca feed to subscribe to the simulator's bars")
        stamp: datetime | None = None
        for index, step in enumerate(self.steps):
            # Stamped now, as a live minute bar would be: the stale-data check measures real age.
            now = datetime.now(UTC)
            stamp = now if stamp is None or now > stamp else stamp + timedelta(microseconds=1)
            frame = pl.DataFrame(
                [{"timestamp": stamp, "asset": a, **bar} for a, bar in step.items()]
            )
            await asyncio.to_thread(sim.stream_bars, frame)
            await bar_done(index)

    def account(self) -> VenueAccount:
        sim = self._running()
        return VenueAccount(sim.cash, {a: q for a, q in sim.positions().items() if q})

    def stop(self) -> None:
        for name in (KEY_ENV, SECRET_ENV):
            os.environ.pop(name, None)
        if self.sim is not None:
            self.sim.stop()
            self.sim = None

    def _running(self) -> AlpacaSimulator:
        if self.sim is None:
            raise RuntimeError("alpaca-sim: start() first")
        return self.sim
