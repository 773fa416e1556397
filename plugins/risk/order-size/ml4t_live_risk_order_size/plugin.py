"""Entry point of ml4t-live-risk-order-size: registers the `order-size` check."""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_order_size.config import OrderSizeConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register(
        "order-size",
        deferred("ml4t_live_risk_order_size.check:OrderSizeCheck"),
        config=OrderSizeConfig,
    )
