"""Entry point of ml4t-live-risk-duplicate: registers the `duplicate` check."""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_duplicate.config import DuplicateConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register(
        "duplicate",
        deferred("ml4t_live_risk_duplicate.check:DuplicateCheck"),
        config=DuplicateConfig,
    )
