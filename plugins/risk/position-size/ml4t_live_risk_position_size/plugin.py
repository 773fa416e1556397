"""Entry point of ml4t-live-risk-position-size: registers the `position-size` check."""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_position_size.config import PositionSizeConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register(
        "position-size",
        deferred("ml4t_live_risk_position_size.check:PositionSizeCheck"),
        config=PositionSizeConfig,
    )
