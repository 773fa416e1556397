"""Replay and synthetic feeds: async iterators of (timestamp, {asset: bar}, context)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ml4t_live_core.bars import Bars
from ml4t_live_core.errors import FeedError
from ml4t_live_core.protocols import BarEvent
from ml4t_live_sim.config import ReplayConfig, SyntheticConfig

REQUIRED_COLUMNS = ("timestamp", "asset", "open", "high", "low", "close", "volume")


class FeedDataError(FeedError, ValueError):
    """Replay data is unusable; names the source and what is wrong with it."""


def _from_pandas(frame: Any) -> pl.DataFrame:
    """The OHLCV columns of a pandas frame, column by column through numpy: `pl.from_pandas`
    needs pyarrow for tz-aware or string columns, and pyarrow is not a dependency."""
    import pandas as pd

    columns = []
    for name in (c for c in REQUIRED_COLUMNS if c in frame.columns):
        series = frame[name]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            utc = pl.Series(name, series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
            column = utc.dt.replace_time_zone("UTC")
            # keep the frame's zone where polars knows it (a fixed offset may not parse)
            with contextlib.suppress(pl.exceptions.PolarsError):
                column = column.dt.convert_time_zone(str(series.dt.tz))
        elif pd.api.types.is_datetime64_any_dtype(series.dtype):
            column = pl.Series(name, series.to_numpy())
        elif pd.api.types.is_numeric_dtype(series.dtype):
            column = pl.Series(name, series.to_numpy(dtype="float64", na_value=math.nan))
        else:
            column = pl.Series(name, series.astype(object).tolist())
        columns.append(column)
    return pl.DataFrame(columns)


def load_bars(source: str | Path | pl.DataFrame | Any, *, timezone: str = "UTC") -> pl.DataFrame:
    """Read a long OHLCV frame (polars, pandas, CSV or Parquet) and check it strictly."""
    name = str(source) if isinstance(source, str | Path) else type(source).__name__
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise FeedDataError(f"replay data {path} does not exist")
        df = (
            pl.read_parquet(path)
            if path.suffix == ".parquet"
            else pl.read_csv(path, try_parse_dates=True)
        )
    elif isinstance(source, pl.DataFrame):
        df = source
    else:
        df = _from_pandas(source.reset_index() if "timestamp" not in source.columns else source)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise FeedDataError(
            f"replay data {name} lacks columns {missing} (needs {list(REQUIRED_COLUMNS)})"
        )
    if df.is_empty():
        raise FeedDataError(f"replay data {name} has no rows")
    df = df.select(
        pl.col("timestamp"),
        pl.col("asset").cast(pl.String),
        *(pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close", "volume")),
    )
    dtype = df.schema["timestamp"]
    if not isinstance(dtype, pl.Datetime):
        raise FeedDataError(f"replay data {name}: timestamp column is {dtype}, not a datetime")
    if dtype.time_zone is None:
        df = df.with_columns(pl.col("timestamp").dt.replace_time_zone(timezone))
    bad = df.filter(
        pl.any_horizontal(
            pl.col("open", "high", "low", "close").is_null()
            | ~pl.col("open", "high", "low", "close").is_finite()
        )
        | (pl.col("close") <= 0)
    )
    if not bad.is_empty():
        row = bad.row(0, named=True)
        raise FeedDataError(
            f"replay data {name}: non-finite or non-positive price at "
            f"{row['timestamp']} {row['asset']}"
        )
    return df.sort("timestamp", "asset", maintain_order=True)


def frame_to_events(df: pl.DataFrame) -> list[BarEvent]:
    """Group a frame sorted by timestamp into one event per timestamp (once, before the replay).

    Columns go to Python lists once and are sliced per timestamp: much faster than iter_rows
    on wide data, and only one datetime object is made per timestamp, not per row. Each event's
    data is a `Bars`, so the loop's per-bar work reads columns instead of every row.
    """
    runs = df.select(pl.col("timestamp").rle()).unnest("timestamp")
    assets, opens, highs, lows, closes, volumes = (df[c].to_list() for c in REQUIRED_COLUMNS[1:])
    events: list[BarEvent] = []
    start = 0
    for count, ts in zip(runs["len"].to_list(), runs["value"].to_list(), strict=True):
        end = start + count
        try:
            data = Bars.from_columns(
                assets[start:end],
                opens[start:end],
                highs[start:end],
                lows[start:end],
                closes[start:end],
                volumes[start:end],
            )
        except ValueError as exc:
            raise FeedDataError(f"replay data at {ts}: {exc}") from None
        events.append((ts, data, {}))
        start = end
    return events


class ReplayFeed:
    """Replays bars in timestamp order, as fast as possible or at `speed` x real time."""

    realtime = False

    def __init__(self, config: ReplayConfig | None = None, *, data: Any = None):
        self.config = config or ReplayConfig()
        if data is None and self.config.path is None:
            raise FeedDataError("the replay feed needs [feed.replay] path = ... (CSV or Parquet)")
        self._source = data if data is not None else self.config.path
        self._events: list[BarEvent] = []
        self._stopped = False

    async def start(self) -> None:
        df = await asyncio.to_thread(load_bars, self._source, timezone=self.config.timezone)
        cfg = self.config
        if cfg.assets:
            df = df.filter(pl.col("asset").is_in(cfg.assets))
        if cfg.start:
            df = df.filter(pl.col("timestamp") >= _aware(cfg.start))
        if cfg.end:
            df = df.filter(pl.col("timestamp") <= _aware(cfg.end))
        self._events = frame_to_events(df)
        self._stopped = False

    async def stop(self) -> None:
        self._stopped = True

    async def history(self, bars: int) -> list[BarEvent]:
        """Replays have no past beyond their data: warm-up comes from the first bars instead."""
        return []

    def __aiter__(self) -> AsyncIterator[BarEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BarEvent]:
        previous = None
        for event in self._events:
            if self._stopped:
                return
            if self.config.speed > 0 and previous is not None:
                await asyncio.sleep((event[0] - previous).total_seconds() / self.config.speed)
            previous = event[0]
            yield event


class SyntheticFeed(ReplayFeed):
    """A seeded geometric random walk for N assets named A000, A001, ..."""

    def __init__(self, config: SyntheticConfig | None = None):
        self.synthetic = config or SyntheticConfig()
        super().__init__(ReplayConfig(), data=synthetic_bars(self.synthetic))


def synthetic_bars(cfg: SyntheticConfig) -> pl.DataFrame:
    rng = random.Random(cfg.seed)
    width = max(3, len(str(cfg.assets - 1)))
    assets = [f"A{i:0{width}d}" for i in range(cfg.assets)]
    start = _aware(cfg.start)
    rows: dict[str, list[Any]] = {c: [] for c in REQUIRED_COLUMNS}
    prices = {a: cfg.start_price * (1 + 0.1 * rng.random()) for a in assets}
    for i in range(cfg.bars):
        ts = start + timedelta(seconds=i * cfg.interval_seconds)
        for asset in assets:
            open_ = prices[asset]
            close = open_ * math.exp(rng.gauss(0.0, cfg.volatility))
            spread = abs(rng.gauss(0.0, cfg.volatility)) * open_
            rows["timestamp"].append(ts)
            rows["asset"].append(asset)
            rows["open"].append(open_)
            rows["high"].append(max(open_, close) + spread)
            rows["low"].append(max(min(open_, close) - spread, 0.01))
            rows["close"].append(close)
            rows["volume"].append(float(rng.randint(100, 10_000)))
            prices[asset] = close
    return pl.DataFrame(rows)


def _aware(when: Any) -> Any:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
