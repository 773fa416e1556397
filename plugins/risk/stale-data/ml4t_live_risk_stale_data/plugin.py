"""Entry point of ml4t-live-risk-stale-data: registers the `stale-data` check."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_stale_data.check import StaleDataCheck, StaleDataConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("stale-data", StaleDataCheck, config=StaleDataConfig)
