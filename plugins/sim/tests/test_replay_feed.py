"""The replay feed: the same bars from polars, pandas, CSV or Parquet; as fast as possible or
paced at a speed factor of the bars' own spacing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from ml4t_live_sim import ReplayFeed, SyntheticConfig
from ml4t_live_sim.config import ReplayConfig
from ml4t_live_sim.feeds import FeedDataError, synthetic_bars

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
#: Bar spacing in minutes: a 1-minute gap, then a 5-minute gap.
MINUTES = (0, 1, 6)


def _bars() -> pl.DataFrame:
    return pl.DataFrame({
        "timestamp": [T0 + timedelta(minutes=m) for m in MINUTES for _ in "AB"],
        "asset": [a for _ in MINUTES for a in "AB"],
        "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 1e4,
    })


async def _loop_times(feed: ReplayFeed) -> list[float]:
    """Loop time at which each event arrives."""
    loop = asyncio.get_running_loop()
    await feed.start()
    return [loop.time() async for _ in feed]


async def test_speed_factor_paces_events_by_their_spacing():
    speed = 600.0  # a minute of bars in 0.1 s
    times = await _loop_times(ReplayFeed(ReplayConfig(speed=speed), data=_bars()))
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    # sleeps never end early: lower bounds are exact; the 5x ratio shows pacing follows the bars
    assert first_gap >= 60 / speed * 0.99
    assert second_gap >= 300 / speed * 0.99
    assert second_gap > 2 * first_gap


async def test_speed_zero_replays_without_waiting():
    times = await _loop_times(ReplayFeed(ReplayConfig(speed=0), data=_bars()))
    assert len(times) == len(MINUTES)
    assert times[-1] - times[0] < 60 / 600  # faster than the paced replay's first gap alone


async def test_polars_pandas_csv_and_parquet_sources_give_the_same_events(tmp_path: Path):
    frame = synthetic_bars(SyntheticConfig(assets=3, bars=20, seed=7))
    frame.write_csv(tmp_path / "bars.csv")
    frame.write_parquet(tmp_path / "bars.parquet")
    # pandas built without pyarrow (not a dependency), as a user's frame would be
    pandas = pd.DataFrame(frame.to_dict(as_series=False))
    sources = [frame, pandas, pandas.set_index("timestamp"),
               tmp_path / "bars.csv", tmp_path / "bars.parquet"]
    replays = []
    for source in sources:
        if isinstance(source, Path):
            feed = ReplayFeed(ReplayConfig(path=str(source)))
        else:
            feed = ReplayFeed(data=source)
        await feed.start()
        replays.append([event async for event in feed])
    assert len(replays[0]) == 20 and all(len(e[1]) == 3 for e in replays[0])
    for other in replays[1:]:
        assert other == replays[0]


async def test_a_pandas_frame_keeps_its_time_zone():
    frame = _bars().with_columns(pl.col("timestamp").dt.convert_time_zone("America/New_York"))
    feed = ReplayFeed(data=pd.DataFrame(frame.to_dict(as_series=False)))
    await feed.start()
    first = [event async for event in feed][0][0]
    assert first == T0 and str(first.tzinfo) == "America/New_York"


async def test_a_missing_file_names_it(tmp_path: Path):
    feed = ReplayFeed(ReplayConfig(path=str(tmp_path / "nope.parquet")))
    with pytest.raises(FeedDataError, match="nope.parquet does not exist"):
        await feed.start()


def test_a_negative_speed_is_refused():
    with pytest.raises(ValueError, match="speed"):
        ReplayConfig(speed=-1)
