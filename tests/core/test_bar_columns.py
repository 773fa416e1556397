"""Bars by column (what a replay yields) and plain dict bars give the same run: the same fills
at the same prices, the same marks, the same last bar times. The column path is only a faster
way to the same state."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ml4t.backtest import Strategy
from ml4t_live_sim import ReplayFeed

from ml4t_live_core.bars import Bars

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class PlainFeed(ReplayFeed):
    """The same replay, but every bar a plain dict (as a network feed would yield it)."""

    async def _iterate(self) -> AsyncIterator[Any]:
        for ts, data, context in self._events:
            assert isinstance(data, Bars) and data.priced  # the column path is what we compare
            yield ts, {asset: dict(bar) for asset, bar in data.items()}, context


class Trader(Strategy):
    """Buys and sells every asset in turn, market and limit, so fills happen on most bars."""

    def __init__(self) -> None:
        self.bars = 0
        self.seen: list[tuple[Any, float, dict[str, float]]] = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.bars += 1
        self.seen.append((timestamp, broker.get_account_value(),
                          {a: p.current_price for a, p in broker.get_positions().items()}))
        asset = sorted(data)[self.bars % len(data)]
        if self.bars % 3 == 0:
            broker.submit_order(asset, 2)
        elif self.bars % 3 == 1 and broker.get_position(asset):
            broker.close_position(asset)
        else:
            broker.order_target_value(asset, 500.0)


async def run(make_runtime, bars, feed_type):  # type: ignore[no-untyped-def]
    strategy = Trader()
    runtime = make_runtime(strategy, feed=feed_type(data=bars))
    await runtime.engine.run(install_signal_handlers=False)
    safe = runtime.safe
    fills = [(f.timestamp, f.asset, f.side, f.quantity, f.price) for f in safe.fills]
    return fills, strategy.seen, safe.prices, safe.bar_times, safe.equity()


async def test_bars_by_column_and_plain_dicts_give_the_same_run(make_runtime, bars):
    by_column = await run(make_runtime, bars, ReplayFeed)
    plain = await run(make_runtime, bars, PlainFeed)
    assert len(by_column[0]) > 20  # the run did trade
    assert by_column == plain


def bar(close: Any) -> dict[str, Any]:
    return {"open": 10.0, "high": 11.0, "low": 9.0, "close": close, "volume": 5.0}


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -3.0, None, "12.5", True])
@pytest.mark.parametrize("shape", ["plain", "bars"])
async def test_an_unusable_close_leaves_that_assets_price_and_time_alone(make_runtime, bad, shape):
    runtime = make_runtime(Trader())
    safe = runtime.safe
    await safe.start()
    try:
        first, second = T0, T0 + timedelta(minutes=1)
        await safe.on_bar(first, {"A": bar(10.0), "B": bar(20.0)})
        rows = {"A": bar(11.0), "B": bar(bad), "C": bar(30)}  # an int close is a price too
        if shape == "bars":
            fields = ("open", "high", "low", "close", "volume")
            rows = Bars.from_columns(list(rows), *([r[k] for r in rows.values()] for k in fields))
        await safe.on_bar(second, rows)
        assert safe.prices == {"A": 11.0, "B": 20.0, "C": 30.0}
        assert type(safe.prices["C"]) is float
        assert safe.bar_times == {"A": second, "B": first, "C": second}
    finally:
        await safe.stop()
