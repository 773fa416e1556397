"""Entry point of ml4t-live-risk-price-collar: registers the `price-collar` check."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_price_collar.check import PriceCollarCheck, PriceCollarConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("price-collar", PriceCollarCheck, config=PriceCollarConfig)
