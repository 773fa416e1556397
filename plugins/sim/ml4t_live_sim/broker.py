"""SimBroker: the paper broker, a `SimulatedVenue` configured from [broker.sim]."""

from __future__ import annotations

from ml4t_live_core.venue import Costs, SimulatedVenue

from ml4t_live_sim.config import SimBrokerConfig


class SimBroker(SimulatedVenue):
    """Fills market orders at the next bar's open (or the bar's close), limits/stops when touched."""

    def __init__(self, config: SimBrokerConfig | None = None):
        config = config or SimBrokerConfig()
        super().__init__(
            initial_cash=config.initial_cash,
            fill_timing="last_price" if config.fill_timing == "close" else "next_open",
            costs=Costs(config.commission_per_share, config.commission_pct, config.min_commission, config.slippage_bps),
            multipliers=config.multipliers,
            allow_short=config.allow_short,
            name="sim",
        )
        self.config = config
