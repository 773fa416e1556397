"""Bars by column (what a replay yields) and plain dict bars give the same run: the same fills
at the same prices, the same marks, the same last bar times. The column path is only a faster
way to the same state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ml4t.backtest import Strategy
from ml4t_live_sim import ReplayFeed

from ml4t_live_core.bars import Bars


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
