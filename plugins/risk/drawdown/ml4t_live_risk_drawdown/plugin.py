"""Entry point of ml4t-live-risk-drawdown: registers the `drawdown` check."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_drawdown.check import DrawdownCheck, DrawdownConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("drawdown", DrawdownCheck, config=DrawdownConfig)
