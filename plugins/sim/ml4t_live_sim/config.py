"""Typed settings of the sim plugin: [broker.sim], [feed.replay], [feed.synthetic]."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from ml4t_live_core.config import PluginConfig

if TYPE_CHECKING:  # the methods import it: the plugin registers without ml4t-backtest
    from ml4t.backtest import BacktestConfig, ContractSpec
    from ml4t.backtest.execution.limits import VolumeParticipationLimit


class SimBrokerConfig(PluginConfig):
    """A paper broker that fills exactly like ml4t-backtest: market orders at the next bar's open
    ("next_open", the backtest default) or at the close of the bar they were placed on ("close",
    the backtest's same-bar mode); limits and stops when a later bar trades through them."""

    initial_cash: float = Field(default=100_000.0, gt=0, allow_inf_nan=False)
    fill_timing: Literal["next_open", "close"] = "next_open"
    commission_per_share: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    commission_pct: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    min_commission: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    slippage_bps: float = Field(default=0.0, ge=0, lt=10_000, allow_inf_nan=False)
    allow_short: bool = True
    #: "integer" rounds order quantities to whole shares, as ml4t-backtest does by default.
    share_type: Literal["integer", "fractional"] = "integer"
    multipliers: dict[str, float] = Field(default_factory=dict)
    #: Fill at most this fraction of each bar's volume (the rest waits for later bars, as
    #: ml4t-backtest's `VolumeParticipationLimit` does); unset fills orders whole.
    max_volume_participation: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)

    def backtest_config(self) -> BacktestConfig:
        """The ml4t-backtest settings that make `run_backtest` fill like this broker (parity)."""
        from ml4t.backtest import BacktestConfig
        from ml4t.backtest.config import (
            CommissionType,
            ExecutionMode,
            ExecutionPrice,
            ShareType,
            SlippageType,
        )

        per_share, pct = self.commission_per_share, self.commission_pct
        minimum = self.min_commission
        if not (per_share or pct or minimum):
            commission = CommissionType.NONE
        elif per_share and not pct:
            commission = CommissionType.PER_SHARE
        elif pct and not (per_share or minimum):
            commission = CommissionType.PERCENTAGE
        else:  # mixed fees or a minimum on a percentage: the backtest's composed per-order model
            commission = CommissionType.PER_ORDER
        next_open = self.fill_timing == "next_open"
        return BacktestConfig(
            initial_cash=self.initial_cash,
            execution_mode=ExecutionMode.NEXT_BAR if next_open else ExecutionMode.SAME_BAR,
            # Same-bar fills at the close: the backtest's default OPEN would fill at a price
            # that was in the past when the strategy decided (look-ahead).
            execution_price=ExecutionPrice.OPEN if next_open else ExecutionPrice.CLOSE,
            commission_type=commission,
            commission_per_share=per_share,
            commission_rate=pct,
            commission_minimum=minimum,
            slippage_type=SlippageType.PERCENTAGE if self.slippage_bps else SlippageType.NONE,
            slippage_rate=self.slippage_bps / 10_000,
            allow_short_selling=self.allow_short,
            share_type=ShareType(self.share_type),
        )

    def execution_limits(self) -> VolumeParticipationLimit | None:
        """The ml4t-backtest execution limits that make `run_backtest` fill partially like this
        broker (pass them as `run_backtest(..., execution_limits=...)`)."""
        if self.max_volume_participation is None:
            return None
        from ml4t.backtest.execution.limits import VolumeParticipationLimit

        return VolumeParticipationLimit(max_participation=self.max_volume_participation)

    def contract_specs(self) -> dict[str, ContractSpec]:
        """Per-asset multipliers in the form ml4t-backtest takes them (futures contracts)."""
        from ml4t.backtest import AssetClass, ContractSpec

        return {
            a: ContractSpec(symbol=a, asset_class=AssetClass.FUTURE, multiplier=m)
            for a, m in self.multipliers.items()
        }

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
    speed: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    assets: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    timezone: str = "UTC"


class SyntheticConfig(PluginConfig):
    """A seeded random walk of OHLCV bars for N assets (demos, soak tests, benchmarks)."""

    assets: int = Field(default=5, ge=1, le=10_000)
    bars: int = Field(default=390, ge=1)
    interval_seconds: int = Field(default=60, ge=1)
    start: datetime = datetime.fromisoformat("2024-01-02T14:30:00+00:00")
    start_price: float = Field(default=100.0, gt=0, allow_inf_nan=False)
    volatility: float = Field(default=0.001, ge=0, lt=1, allow_inf_nan=False)
    seed: int = 7
