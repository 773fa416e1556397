"""The [risk.exposure] settings, apart from the check: the plugin registers with this module
only, and the check (which compares ml4t-backtest enums) is imported when a run builds it."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig


class ExposureConfig(PluginConfig):
    """Settings of [risk.exposure] (off unless a limit is set; limits depend on account size).

    max_gross: the largest sum of |quantity| x last price x multiplier over all positions,
        in account currency, once the order and every working order that adds to gross
        exposure (a rebalance sends all its orders before any fills) would fill.
    max_net: the largest |sum of signed position values| after the order (and this asset's
        working orders on the same side) would fill, in account currency.

    An order that does not increase the measure it is checked against always passes; an
    order that would increase it, on an asset with no known last price, is rejected.
    Working orders found at the broker on start-up are not known to the check until they fill.
    """

    max_gross: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_net: float | None = Field(default=None, gt=0, allow_inf_nan=False)
