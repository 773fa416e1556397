"""asset-filter: allowed and blocked symbols, normalised like the runtime's orders."""

from __future__ import annotations

import pytest
from ml4t_live_risk_asset_filter.check import AssetFilterCheck, AssetFilterConfig
from ml4t_live_testing.risk import assert_registered_check, order_request, risk_context
from pydantic import ValidationError


def _check(config: dict, asset: str, quantity: float = 10, **kwargs):
    context = risk_context(positions={"TSLA": 5.0}, prices={"AAPL": 150.0, "TSLA": 200.0})
    check = AssetFilterCheck(AssetFilterConfig.model_validate(config))
    return check.ml4t_live_check_order(
        order=order_request(context, asset, quantity, **kwargs), context=context
    )


def test_default_config_allows_every_symbol():
    assert _check({}, "ANYTHING") is None


def test_blocked_symbol_is_rejected_naming_it():
    rejection = _check({"blocked": ["TSLA"]}, "TSLA")
    assert rejection is not None and rejection.check == "asset-filter"
    assert "TSLA" in rejection.reason and "blocked" in rejection.reason
    assert _check({"blocked": ["TSLA"]}, "AAPL") is None


def test_symbols_are_normalised_on_both_sides():
    assert _check({"blocked": [" tsla "]}, "TSLA") is not None
    assert _check({"blocked": ["TSLA"]}, " tsla") is not None
    assert _check({"allowed": ["aapl"]}, "AAPL ") is None


def test_allowed_list_rejects_everything_else():
    rejection = _check({"allowed": ["AAPL", "MSFT"]}, "IBM")
    assert rejection is not None and "not on the allowed list" in rejection.reason
    assert _check({"allowed": ["AAPL", "MSFT"]}, "MSFT") is None


def test_blocked_wins_over_allowed():
    assert _check({"allowed": ["AAPL"], "blocked": ["AAPL"]}, "AAPL") is not None


def test_close_orders_are_filtered_too():
    assert _check({"blocked": ["TSLA"]}, "TSLA", -5, is_close=True) is not None


@pytest.mark.parametrize(
    "config, message",
    [
        ({"allowed": []}, "block every order"),
        ({"blocked": [""]}, "non-empty"),
        ({"blocked": "TSLA"}, "list"),
        ({"block": ["TSLA"]}, "extra"),
    ],
)
def test_malformed_config_is_a_specific_error(config, message):
    with pytest.raises(ValidationError, match=message):
        AssetFilterConfig.model_validate(config)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("asset-filter")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("asset-filter", AssetFilterCheck, AssetFilterConfig)
