"""Through the composed runtime: a strategy behind `[feed] aggregate = "5min"` sees 5-minute
bars."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import polars as pl
import pytest
from ml4t.backtest import Strategy
from ml4t_live_aggregator import AggregatingFeed, AggregatorConfig

from ml4t_live_core.compose import build
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import LOAD_ENV_VAR

# The composed runtime needs the sim plugin's broker and replay feed; alone with the core, skip.
sim = pytest.importorskip(
    "ml4t_live_sim", reason="the runtime tests drive the sim broker and replay feed"
)
ReplayFeed, SyntheticConfig = sim.ReplayFeed, sim.SyntheticConfig
synthetic_bars = sim.feeds.synthetic_bars

# These tests drive the sim plugin's replay feed; alone with the core (nox isolation) they skip.
sim = pytest.importorskip("ml4t_live_sim", reason="these tests replay bars with ml4t-live-sim")
ReplayFeed, SyntheticConfig = sim.ReplayFeed, sim.SyntheticConfig
synthetic_bars = pytest.importorskip("ml4t_live_sim.feeds").synthetic_bars


class Recorder(Strategy):
    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.seen.append((timestamp, data, context))


def expected_five_minute(bars: pl.DataFrame) -> dict:
    grouped = (
        bars.sort("timestamp")
        .with_columns(pl.col("timestamp").dt.truncate("5m").alias("start"))
        .group_by("start", "asset", maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
    )
    out: dict = {}
    for row in grouped.iter_rows(named=True):
        out.setdefault(row["start"], {})[row["asset"]] = {
            k: row[k] for k in ("open", "high", "low", "close", "volume")
        }
    return out


@pytest.fixture
def one_minute_bars() -> pl.DataFrame:
    return synthetic_bars(SyntheticConfig(assets=3, bars=32, seed=5))  # 14:30 .. 15:01


async def test_strategy_sees_five_minute_bars_built_from_one_minute_bars(
    one_minute_bars, monkeypatch
):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,aggregator")
    strategy = Recorder()
    runtime = build(
        strategy,
        None,
        overrides={
            "feed": {"use": "replay", "aggregate": "5min"},
            "runtime": {"strategy_id": "agg"},
        },
        feed=ReplayFeed(data=one_minute_bars),
        store=MemoryStateStore(),
    )
    assert isinstance(runtime.feed, AggregatingFeed)
    stats = await runtime.engine.run(install_signal_handlers=False)
    expected = expected_five_minute(one_minute_bars)
    assert stats.bars == len(expected) == 7  # six full bars and the replay's last, 15:00-15:05
    for (ts, data, context), (start, bars) in zip(
        strategy.seen, sorted(expected.items()), strict=True
    ):
        assert ts == start and context["bar_end"] - ts == timedelta(minutes=5)
        assert data.keys() == bars.keys()
        for asset, bar in bars.items():
            assert data[asset] == pytest.approx(bar)
    assert runtime.feed.stats.rejected == runtime.feed.stats.late == 0


async def test_config_file_wraps_the_feed_and_settings_reach_the_aggregator(
    tmp_path, one_minute_bars, monkeypatch
):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,aggregator")
    path = tmp_path / "live.toml"
    path.write_text(
        '[runtime]\nstrategy_id = "agg"\n[feed]\nuse = "replay"\naggregate = "15min"\n'
        '[feed.aggregator]\nlabel = "end"\nassets = ["A000", "A001", "A002", "ZZZ"]\n'
    )
    strategy = Recorder()
    runtime = build(strategy, path, feed=ReplayFeed(data=one_minute_bars), store=MemoryStateStore())
    await runtime.engine.run(install_signal_handlers=False)
    assert [ts for ts, _, _ in strategy.seen] == [ctx["bar_end"] for _, _, ctx in strategy.seen]
    assert [ctx["bar_start"].minute for _, _, ctx in strategy.seen] == [30, 45, 0]
    assert all(ctx["missing"] == ["ZZZ"] for _, _, ctx in strategy.seen)


async def test_slow_consumer_with_drop_oldest_keeps_memory_bounded(one_minute_bars):
    feed = AggregatingFeed(
        AggregatorConfig(interval="1min", backpressure="drop_oldest", max_pending_bars=4),
        ReplayFeed(data=one_minute_bars),
    )
    await feed.start()
    for _ in range(200):  # the consumer is away while the whole replay is aggregated
        await asyncio.sleep(0)
        assert feed.waiting <= 4
    events = [event async for event in feed]
    assert len(events) == 4 and feed.stats.dropped_backpressure == 32 - 4
    assert events[-1][0] == one_minute_bars["timestamp"].max()


async def test_slow_consumer_with_block_stops_reading_the_inner_feed(one_minute_bars):
    feed = AggregatingFeed(
        AggregatorConfig(interval="1min", max_pending_bars=2), ReplayFeed(data=one_minute_bars)
    )
    await feed.start()
    for _ in range(200):
        await asyncio.sleep(0)
    assert feed.waiting == 2 and feed.aggregator.stats.ticks < 32 * 3
    assert feed.stats.blocked_backpressure >= 1  # the wait is counted, not silent
    events = [event async for event in feed]
    assert len(events) == 32 and feed.stats.dropped_backpressure == 0


class HistoryFeed(ReplayFeed):
    """A replay whose past is its own frame (the sim replay has no history)."""

    def __init__(self, data: pl.DataFrame) -> None:
        super().__init__(data=data)
        self.requests: list[int] = []
        from ml4t_live_sim.feeds import frame_to_events, load_bars

        self._past = frame_to_events(load_bars(data))

    async def history(self, bars: int):  # type: ignore[no-untyped-def]
        self.requests.append(bars)
        return self._past[-bars:]


async def test_history_for_warm_up_is_aggregated_from_the_inner_feeds_history(one_minute_bars):
    inner = HistoryFeed(one_minute_bars)
    feed = AggregatingFeed(AggregatorConfig(interval="5min"), inner)
    past = await feed.history(3)
    expected = sorted(expected_five_minute(one_minute_bars).items())[-3:]
    assert [ts for ts, _, _ in past] == [start for start, _ in expected]
    assert inner.requests == [3, 12]  # grown until enough 5-minute bars came out
    assert all(
        data[a] == pytest.approx(bar)
        for (_, data, _), (_, bars) in zip(past, expected, strict=True)
        for a, bar in bars.items()
    )


async def test_history_never_starts_with_a_bar_it_only_saw_the_end_of(one_minute_bars):
    inner = HistoryFeed(one_minute_bars.filter(pl.col("timestamp").dt.minute() != 50))
    feed = AggregatingFeed(AggregatorConfig(interval="5min"), inner)
    past = await feed.history(3)
    # 12 one-minute bars now start at 14:49: the 14:45 bar would hold only its last minute.
    assert [ts.minute for ts, _, _ in past] == [50, 55, 0]
    assert inner.requests == [3, 12]
