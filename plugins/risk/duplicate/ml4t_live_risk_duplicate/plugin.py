"""Entry point of ml4t-live-risk-duplicate: registers the `duplicate` check."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_duplicate.check import DuplicateCheck, DuplicateConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("duplicate", DuplicateCheck, config=DuplicateConfig)
