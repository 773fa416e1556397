"""Entry point of ml4t-live-risk-exposure: registers the `exposure` check."""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_exposure.config import ExposureConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register(
        "exposure", deferred("ml4t_live_risk_exposure.check:ExposureCheck"), config=ExposureConfig
    )
