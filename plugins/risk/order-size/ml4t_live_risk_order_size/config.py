"""The [risk.order-size] settings, apart from the check: the plugin registers with this module
only, and the check (which compares ml4t-backtest enums) is imported when a run builds it."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig


class OrderSizeConfig(PluginConfig):
    """[risk.order-size] (both default to not set: account-size limits are yours to choose)

    - `max_shares`: largest quantity (shares or contracts) in one order.
    - `max_value`: largest value of one order, quantity x price x contract multiplier, in
      account currency. The price is the limit price for limit and stop-limit orders, else
      the latest market price the runtime has seen; an order whose price is unknown is
      rejected while `max_value` is set (never valued at an invented price).

    A close that reduces an existing position (`close_position`, `flatten_all_positions`)
    always passes: its size comes from the position, not from a typo, and a halt must be
    able to flatten.
    """

    max_shares: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_value: float | None = Field(default=None, gt=0, allow_inf_nan=False)
