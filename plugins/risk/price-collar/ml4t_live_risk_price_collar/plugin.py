"""Entry point of ml4t-live-risk-price-collar: registers the `price-collar` check."""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_price_collar.config import PriceCollarConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register(
        "price-collar",
        deferred("ml4t_live_risk_price_collar.check:PriceCollarCheck"),
        config=PriceCollarConfig,
    )
