"""The [risk.price-collar] settings, apart from the check: the plugin registers with this module
only, and the check (which compares ml4t-backtest enums) is imported when a run builds it."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig


class PriceCollarConfig(PluginConfig):
    """Settings of [risk.price-collar] (on by default).

    max_deviation_pct: the largest distance, in percent of the last trade price, a limit or
        stop price may be from it (default 10). An order whose asset has no known last price is
        rejected: without one we cannot tell a typo from a real price.
    """

    max_deviation_pct: float = Field(default=10.0, gt=0, allow_inf_nan=False)
