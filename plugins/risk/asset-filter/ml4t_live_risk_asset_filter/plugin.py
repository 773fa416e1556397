"""Entry point of ml4t-live-risk-asset-filter: registers the `asset-filter` check."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_risk_asset_filter.check import AssetFilterCheck, AssetFilterConfig


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("asset-filter", AssetFilterCheck, config=AssetFilterConfig)
