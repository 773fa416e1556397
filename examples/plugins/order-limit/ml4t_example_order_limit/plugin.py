"""Entry point of ml4t-live-example-order-limit: registers the `max-orders-per-day` check."""

from ml4t_example_order_limit.check import MaxOrdersPerDayCheck, MaxOrdersPerDayConfig
from ml4t_live_core.hookspecs import hookimpl


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("max-orders-per-day", MaxOrdersPerDayCheck, config=MaxOrdersPerDayConfig)
