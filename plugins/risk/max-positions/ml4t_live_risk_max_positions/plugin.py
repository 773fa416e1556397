"""Entry point of ml4t-live-risk-max-positions: registers the `max-positions` check."""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_max_positions.config import MaxPositionsConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register(
        "max-positions",
        deferred("ml4t_live_risk_max_positions.check:MaxPositionsCheck"),
        config=MaxPositionsConfig,
    )
