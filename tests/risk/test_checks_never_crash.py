"""Every installed risk check, on random orders and portfolios, only ever returns None or a
`Rejection` carrying its own name: it never raises (a crash in a check must not be the way an
order gets stopped, or let one through)."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ml4t.backtest import OrderSide, OrderType
from ml4t_live_testing.risk import START, add_pending, order_request, risk_context
from pydantic import ValidationError

from ml4t_live_core.plugins import ENTRY_POINT_GROUP, Kind, Registration, load_plugins
from ml4t_live_core.risk import Rejection, TradingState

# Every installed risk-check distribution, loaded like the runtime loads it, without the other
# plugins (a broken broker plugin must not hide the checks from this test).
REGISTRATIONS = load_plugins(
    entry_points=False,
    extra=[
        (ep.load(), ep.name)
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name.startswith("ml4t-live-risk-")
    ],
).registry.all(Kind.RISK_CHECK)
ASSETS = ["AAPL", "MSFT", "ES", " aapl ", "brk.b", "NEVER_SEEN"]
KNOWN = ["AAPL", "MSFT", "ES", "BRK.B"]

prices = st.floats(min_value=1e-4, max_value=1e7, allow_nan=False, allow_infinity=False)
quantities = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
signed_quantities = quantities.flatmap(lambda q: st.sampled_from([q, -q]))
#: Settings that make checks with list or window limits actually bite.
STRICT = {
    "asset-filter": {"allowed": ["AAPL", "ES"], "blocked": ["es"]},
    "duplicate": {"window_seconds": 600},
    "rate-limit": {"max_orders": 2, "per_seconds": 600},
}


def _configs(reg: Registration) -> list[Any]:
    """The defaults, and a 'tight' variant that sets every optional limit to a small number."""
    if reg.config is None:
        return [None]
    configs = [reg.config()]
    tight = {name: 1.0 for name, field in reg.config.model_fields.items() if field.default is None}
    # A schema whose optional fields are not numbers keeps its defaults only.
    with contextlib.suppress(ValidationError):
        if tight:
            configs.append(reg.config.model_validate(tight))
    if reg.name in STRICT:
        configs.append(reg.config.model_validate(STRICT[reg.name]))
    return configs


CASES = [
    pytest.param(reg, config, id=f"{reg.name}-{i}")
    for reg in REGISTRATIONS
    for i, config in enumerate(_configs(reg))
]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    priced = draw(st.lists(st.sampled_from(KNOWN), unique=True))
    return {
        "prices": {a: draw(prices) for a in priced},
        "positions": draw(st.dictionaries(st.sampled_from(KNOWN), signed_quantities, max_size=4)),
        "cash": draw(st.floats(min_value=-1e7, max_value=1e9, allow_nan=False)),
        "stale": {a: draw(st.integers(0, 10 * 86_400)) for a in priced},
        "multipliers": draw(st.dictionaries(st.just("ES"), st.sampled_from([0.01, 50.0]))),
        "state": draw(st.sampled_from(list(TradingState))),
        "pending": draw(
            st.lists(
                st.tuples(st.sampled_from(KNOWN), quantities, st.sampled_from(list(OrderSide))),
                max_size=3,
            )
        ),
        "orders": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "asset": st.sampled_from(ASSETS),
                        "quantity": signed_quantities,
                        "side": st.sampled_from([None, *OrderSide]),
                        "order_type": st.sampled_from(
                            [t for t in OrderType if t is not OrderType.MOC]
                        ),
                        "limit_price": st.none() | prices,
                        "stop_price": st.none() | prices,
                        "trail_amount": st.none() | prices,
                        "is_close": st.booleans(),
                        "is_update": st.booleans(),
                        "advance": st.floats(min_value=-5, max_value=3_600, allow_nan=False),
                    }
                ),
                min_size=1,
                max_size=6,
            )
        ),
    }


@pytest.mark.parametrize(("reg", "config"), CASES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_check_returns_none_or_its_own_rejection(
    reg: Registration, config: Any, scenario: dict
) -> None:
    context = risk_context(
        positions=scenario["positions"],
        prices=scenario["prices"],
        cash=scenario["cash"],
        bar_times={a: START - timedelta(seconds=s) for a, s in scenario["stale"].items()},
        multipliers=scenario["multipliers"],
    )
    context.risk_state.trading_state = scenario["state"]
    for asset, quantity, side in scenario["pending"]:
        add_pending(context, asset, quantity, side)
    check = reg.factory(config)
    for spec in scenario["orders"]:
        spec = dict(spec)
        is_close, is_update = spec.pop("is_close"), spec.pop("is_update")
        context.clock.advance(spec.pop("advance"))
        quantity = spec["quantity"]
        if spec["side"] is not None:
            spec["quantity"] = abs(quantity)
        try:
            request = order_request(context, is_close=is_close, **spec)
        except ValueError:
            continue  # invalid arguments never reach a check (validation raises first)
        request = dataclasses.replace(request, is_update=is_update)
        result = check.ml4t_live_check_order(order=request, context=context)
        assert result is None or isinstance(result, Rejection), result
        if result is not None:
            assert result.check == reg.name and result.reason
            continue
        accepted = getattr(check, "ml4t_live_on_order_accepted", None)
        if accepted is not None:
            accepted(order=request, context=context)


def test_every_installed_check_is_covered() -> None:
    names = {reg.name for reg in REGISTRATIONS}
    assert len(names) == len(REGISTRATIONS)
    assert {
        "kill-switch",
        "asset-filter",
        "duplicate",
        "rate-limit",
        "order-size",
        "position-size",
    } <= names
