"""Entry point of ml4t-live-risk-rate-limit: registers the `rate-limit` check."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_rate_limit.check import RateLimitCheck, RateLimitConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("rate-limit", RateLimitCheck, config=RateLimitConfig)
