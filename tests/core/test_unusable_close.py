"""A live feed's bar with no usable close (NaN, zero, text) never becomes a price: the last good
price stays (so stale-data can refuse orders once it is too old) and the runtime says so, once
per bad stretch rather than on every bar."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ml4t.backtest import Strategy
from ml4t_live_sim import ReplayFeed

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
CLOSES = [100.0, math.nan, math.nan, 0.0, 101.0, "n/a", 102.0]  # asset B's closes, bar by bar


class NetworkFeed(ReplayFeed):
    """Plain dict bars, as a network feed yields them; B's close follows CLOSES."""

    async def _iterate(self) -> AsyncIterator[Any]:
        for i, close in enumerate(CLOSES):
            bar = {"open": 50.0, "high": 50.0, "low": 50.0, "close": 50.0, "volume": 1.0}
            yield T0 + timedelta(minutes=i), {"A": bar, "B": {**bar, "close": close}}, {}


class Watcher(Strategy):
    def __init__(self) -> None:
        self.prices: list[float | None] = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.prices.append(broker.get_last_price("B"))


async def test_an_unusable_close_keeps_the_last_price_and_warns_once_per_stretch(
    make_runtime, bars, caplog
):
    caplog.set_level(logging.WARNING, logger="ml4t_live.safety")
    strategy = Watcher()
    runtime = make_runtime(strategy, feed=NetworkFeed(data=bars))  # its own bars go unused
    await runtime.engine.run(install_signal_handlers=False)
    assert strategy.prices == [100.0, 100.0, 100.0, 100.0, 101.0, 101.0, 102.0]
    assert runtime.safe.bar_times["B"] == T0 + timedelta(minutes=6)
    warnings = [r.getMessage() for r in caplog.records if "no usable close" in r.getMessage()]
    assert len(warnings) == 2  # the NaN/zero stretch, then "n/a": not one per bar
    assert "B has no usable close (nan)" in warnings[0]
    assert "B has no usable close ('n/a')" in warnings[1]
