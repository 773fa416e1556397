"""Entry point of ml4t-live-risk-kill-switch: registers the `kill-switch` check."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_kill_switch.check import KillSwitchCheck, KillSwitchConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("kill-switch", KillSwitchCheck, config=KillSwitchConfig)
