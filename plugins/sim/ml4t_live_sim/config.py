"""Typed settings of the sim plugin: [broker.sim], [feed.replay], [feed.synthetic]."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from ml4t_live_core.config import PluginConfig


class SimBrokerConfig(PluginConfig):
    """A paper broker: market orders fill at the next bar's open ("next_open") by default, or at
    the close of the bar they were placed on ("close", ml4t-backtest's same-bar mode)."""

    initial_cash: float = Field(100_000.0, gt=0, allow_inf_nan=False)
    fill_timing: Literal["next_open", "close"] = "next_open"
    commission_per_share: float = Field(0.0, ge=0, allow_inf_nan=False)
    commission_pct: float = Field(0.0, ge=0, lt=1, allow_inf_nan=False)
    min_commission: float = Field(0.0, ge=0, allow_inf_nan=False)
    slippage_bps: float = Field(0.0, ge=0, lt=10_000, allow_inf_nan=False)
    allow_short: bool = True
    multipliers: dict[str, float] = Field(default_factory=dict)

    @field_validator("multipliers")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not v > 0}
        if bad:
            raise ValueError(f"multipliers must be positive: {bad}")
        return value


class ReplayConfig(PluginConfig):
    """Replay OHLCV bars from a CSV or Parquet file (long format: timestamp, asset, open, high,
    low, close, volume). speed = 0 replays as fast as possible; 60 plays a minute per second."""

    path: str | None = None
    speed: float = Field(0.0, ge=0, allow_inf_nan=False)
    assets: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    timezone: str = "UTC"


class SyntheticConfig(PluginConfig):
    """A seeded random walk of OHLCV bars for N assets (demos, soak tests, benchmarks)."""

    assets: int = Field(5, ge=1, le=10_000)
    bars: int = Field(390, ge=1)
    interval_seconds: int = Field(60, ge=1)
    start: datetime = datetime.fromisoformat("2024-01-02T14:30:00+00:00")
    start_price: float = Field(100.0, gt=0, allow_inf_nan=False)
    volatility: float = Field(0.001, ge=0, lt=1, allow_inf_nan=False)
    seed: int = 7
