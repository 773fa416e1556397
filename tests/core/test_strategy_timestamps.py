"""`[runtime] strategy_timestamps`: a strategy can see the timestamps its backtest showed it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from ml4t.backtest import Strategy, run_backtest
from ml4t.backtest.example_data import load_example_prices

from ml4t_live_core.strategy_time import shown_context, timestamp_view

NY = "America/New_York"


class SeenTimes(Strategy):
    """Records each bar's timestamp."""

    def __init__(self) -> None:
        self.seen: list[datetime] = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.seen.append(timestamp)


@pytest.fixture(scope="module")
def naive_prices() -> pl.DataFrame:
    """ml4t-backtest's example data: naive exchange-local times (16:00 closes), a few days."""
    prices = load_example_prices("equity")
    return prices.filter(pl.col("timestamp") < pl.col("timestamp").min().dt.offset_by("10d"))


async def _live(make_runtime, prices: pl.DataFrame, mode: str | None) -> SeenTimes:  # type: ignore[no-untyped-def]
    strategy = SeenTimes()
    # What a live feed delivers: the same instants, timezone-aware in UTC.
    aware = prices.with_columns(
        pl.col("timestamp").dt.replace_time_zone(NY).dt.convert_time_zone("UTC")
    )
    runtime_config: dict[str, Any] = {"strategy_id": "test", "timezone": NY}
    if mode is not None:
        runtime_config["strategy_timestamps"] = mode
    runtime = make_runtime(strategy, data=aware, overrides={"runtime": runtime_config})
    await runtime.engine.run(install_signal_handlers=False)
    return strategy


async def test_naive_local_shows_exactly_what_the_backtest_showed(make_runtime, naive_prices):
    backtest = SeenTimes()
    run_backtest(naive_prices, backtest)
    live = await _live(make_runtime, naive_prices, "naive-local")
    assert live.seen == backtest.seen
    assert all(ts.tzinfo is None and ts.hour == 16 for ts in live.seen)


async def test_local_is_aware_in_the_runtime_timezone(make_runtime, naive_prices):
    live = await _live(make_runtime, naive_prices, "local")
    assert all(str(ts.tzinfo) == NY and ts.hour == 16 for ts in live.seen)


async def test_by_default_the_strategy_sees_the_feed_timestamps(make_runtime, naive_prices):
    feed = await _live(make_runtime, naive_prices, None)
    local = await _live(make_runtime, naive_prices, "local")
    assert feed.seen == local.seen  # the same instants either way
    assert all(ts.utcoffset() == timedelta(0) and ts.hour == 21 for ts in feed.seen)


def test_datetimes_in_the_context_are_shown_the_same_way():
    view = timestamp_view("naive-local", NY)
    assert view is not None
    start = datetime(2024, 1, 2, 20, 55, tzinfo=UTC)
    context = {"bar_start": start, "bar_end": start + timedelta(minutes=5), "missing": ["X"]}
    assert shown_context(context, view) == {
        "bar_start": datetime(2024, 1, 2, 15, 55),
        "bar_end": datetime(2024, 1, 2, 16, 0),
        "missing": ["X"],
    }
    assert shown_context(None, view) is None  # a feed without a context dict
    assert timestamp_view("feed", NY) is None


def test_an_unknown_mode_is_a_config_error_naming_the_key():
    from ml4t_live_core.config import load_config
    from ml4t_live_core.errors import ConfigError

    with pytest.raises(ConfigError, match="strategy_timestamps"):
        load_config(None, overrides={"runtime": {"strategy_timestamps": "utc"}})
