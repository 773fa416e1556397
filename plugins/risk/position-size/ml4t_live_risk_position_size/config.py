"""The [risk.position-size] settings, apart from the check: the plugin registers with this module
only, and the check (which compares ml4t-backtest enums) is imported when a run builds it."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig


class PositionSizeConfig(PluginConfig):
    """[risk.position-size] (both default to not set: account-size limits are yours to choose)

    The projected position is the current position plus this order plus every pending order
    on the same side (as if they all fill), long or short alike.

    - `max_shares`: largest |projected position| in shares or contracts.
    - `max_value`: largest |projected position| x price x contract multiplier, valued at the
      latest market price (the limit price while no market price is known); with no price at
      all the order is rejected while `max_value` is set.

    An order that reduces an existing position without flipping it always passes. An update
    of a pending order is checked with that order still counted as pending (conservative).
    """

    max_shares: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_value: float | None = Field(default=None, gt=0, allow_inf_nan=False)
