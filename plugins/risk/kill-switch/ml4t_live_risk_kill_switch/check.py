"""The kill switch: HALTED and REDUCING trading states, enforced on every order."""

from __future__ import annotations

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext, TradingState

NAME = "kill-switch"


class KillSwitchConfig(PluginConfig):
    """[risk.kill-switch] takes no settings: the switch is always on.

    The state it enforces comes from the runtime (`context.trading_state`), set by
    `ml4t-live halt / reduce / resume --confirm` or by checks such as drawdown:

    - ACTIVE: every order passes.
    - REDUCING: only orders that shrink an existing position (never flip it) pass.
    - HALTED: only a close (`close_position`, `flatten_all_positions`) that reduces an
      existing position passes; everything else, including order updates, is rejected.
    """


class KillSwitchCheck:
    """Rejects orders the current trading state forbids."""

    name = NAME

    def __init__(self, config: KillSwitchConfig | None = None):
        self.config = config or KillSwitchConfig()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        state = context.trading_state
        if state.allows(order):
            return None
        why = context.risk_state.trading_state_reason or "no reason recorded"
        if state is TradingState.HALTED:
            return Rejection(
                NAME,
                f"trading is HALTED ({why}); only a close that reduces an existing position "
                f"is allowed (position {order.position_quantity:g}, order "
                f"{order.side.name} {order.quantity:g})",
            )
        return Rejection(
            NAME,
            f"trading is {state.value.upper()} ({why}); only orders that shrink an existing "
            f"position are allowed (position {order.position_quantity:g}, order "
            f"{order.side.name} {order.quantity:g})",
        )
