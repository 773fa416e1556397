"""The [risk.max-positions] settings, apart from the check: the plugin registers with this module
only, and the check (which compares ml4t-backtest enums) is imported when a run builds it."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig


class MaxPositionsConfig(PluginConfig):
    """Settings of [risk.max-positions] (off unless set).

    max_positions: how many assets may be held at once. An order that would open a position
        in an asset not yet held is rejected when this many are open; orders on an asset already
        held (adding, reducing, flipping) always pass. Working orders that open a position count
        too (a rebalance sends all its orders before any fills), so do further orders on an
        asset that is being opened. Opening orders found at the broker on start-up are not
        known to the check until they fill.
    """

    max_positions: int | None = Field(default=None, ge=1)
