"""Entry point of ml4t-live-risk-daily-loss: registers the `daily-loss` check."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_daily_loss.check import DailyLossCheck, DailyLossConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("daily-loss", DailyLossCheck, config=DailyLossConfig)
