"""The [risk.duplicate] settings, apart from the check: the plugin registers with this module
only, and the check (which compares ml4t-backtest enums) is imported when a run builds it."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig


class DuplicateConfig(PluginConfig):
    """[risk.duplicate]

    - `window_seconds` (default 2.0, > 0): an order with the same asset, side and quantity
      as an order accepted less than this many seconds ago is rejected (a strategy loop that
      re-sends, a retry that should have been idempotent). Time is the runtime's clock
      (bar time in a replay). Only accepted orders arm the window; rejected ones do not.
      Order updates are not new orders and are not checked.
    """

    window_seconds: float = Field(default=2.0, gt=0, allow_inf_nan=False)
