"""exposure: projected gross / net exposure after the order stays within the limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ml4t.backtest import Fill, OrderSide, OrderType
from ml4t_live_risk_exposure.check import ExposureCheck, ExposureConfig
from ml4t_live_testing.risk import (
    START,
    add_pending,
    assert_registered_check,
    order_request,
    risk_context,
)
from pydantic import ValidationError

from ml4t_live_core.protocols import FillEvent

PRICES = {"A": 100.0, "B": 50.0}


def decide(context, request, **limits):
    return ExposureCheck(ExposureConfig(**limits)).ml4t_live_check_order(
        order=request, context=context
    )


def test_gross_just_inside_passes_and_just_outside_is_rejected():
    # Long 100 A (10,000) + short 100 B (5,000) = gross 15,000.
    context = risk_context(positions={"A": 100, "B": -100}, prices=PRICES)
    assert context.gross_exposure() == 15_000
    assert decide(context, order_request(context, "A", 50), max_gross=20_000) is None
    rejection = decide(context, order_request(context, "A", 50.01), max_gross=20_000)
    assert rejection.check == "exposure"
    assert (
        rejection.reason
        == "gross exposure would be 20,001.00 after buy 50.01 A (now 15,000.00, max 20,000.00)"
    )


def test_adding_to_a_short_grows_gross():
    context = risk_context(positions={"A": 100, "B": -100}, prices=PRICES)
    assert (
        decide(context, order_request(context, "B", 100, OrderSide.SELL), max_gross=20_000) is None
    )
    assert (
        decide(context, order_request(context, "B", 101, OrderSide.SELL), max_gross=20_000)
        is not None
    )


def test_multiplier_counts():
    context = risk_context(positions={}, prices={"ES": 5_000.0}, multipliers={"ES": 50.0})
    assert decide(context, order_request(context, "ES", 4), max_gross=1_000_000) is None
    assert (
        "would be 1,250,000.00"
        in decide(context, order_request(context, "ES", 5), max_gross=1_000_000).reason
    )


def test_working_orders_on_the_same_side_count():
    context = risk_context(positions={"A": 100}, prices=PRICES)
    add_pending(context, "A", 50, OrderSide.BUY)
    assert decide(context, order_request(context, "A", 50), max_gross=20_000) is None
    assert decide(context, order_request(context, "A", 51), max_gross=20_000) is not None


def test_orders_that_reduce_exposure_always_pass_even_over_the_limit():
    context = risk_context(positions={"A": 100, "B": -100}, prices=PRICES)
    for request in (
        order_request(context, "A", 40, OrderSide.SELL),
        order_request(context, "B", 100, OrderSide.BUY, is_close=True),
    ):
        assert decide(context, request, max_gross=1_000, max_net=1_000) is None


def test_flip_beyond_the_position_is_judged_on_the_result():
    context = risk_context(positions={"A": 100}, prices=PRICES)  # gross 10,000
    flip_small = order_request(context, "A", 150, OrderSide.SELL)  # -> short 50: gross 5,000
    flip_big = order_request(context, "A", 250, OrderSide.SELL)  # -> short 150: gross 15,000
    assert decide(context, flip_small, max_gross=12_000) is None
    assert decide(context, flip_big, max_gross=12_000) is not None


def test_net_limit_just_inside_and_just_outside():
    context = risk_context(positions={"A": 100, "B": -100}, prices=PRICES)  # net +5,000
    assert decide(context, order_request(context, "A", 50), max_net=10_000) is None
    rejection = decide(context, order_request(context, "A", 51), max_net=10_000)
    assert (
        rejection.reason
        == "net exposure would be 10,100.00 after buy 51 A (now 5,000.00, max ±10,000.00)"
    )
    # Short side: the limit is on |net|.
    assert decide(context, order_request(context, "B", 300, OrderSide.SELL), max_net=10_000) is None
    assert (
        decide(context, order_request(context, "B", 301, OrderSide.SELL), max_net=10_000)
        is not None
    )


def test_order_that_brings_net_back_towards_zero_passes():
    context = risk_context(positions={"A": 300}, prices=PRICES)  # net 30,000 > max 10,000
    assert decide(context, order_request(context, "B", 100, OrderSide.SELL), max_net=10_000) is None


def test_unknown_price_is_rejected_when_it_would_add_exposure():
    context = risk_context(positions={"A": 100}, prices=PRICES)
    request = order_request(context, "ZZZ", 1, order_type=OrderType.LIMIT, limit_price=10.0)
    assert "no last price for ZZZ" in decide(context, request, max_gross=1e9).reason


def test_off_by_default():
    context = risk_context(positions={"A": 1e6}, prices=PRICES)
    assert decide(context, order_request(context, "A", 1e6)) is None


@given(
    qty=st.floats(0.01, 1e4),
    held=st.floats(-1e4, 1e4),
    limit=st.floats(1.0, 1e7),
    sell=st.booleans(),
)
def test_passes_exactly_when_projected_gross_fits_or_shrinks(qty, held, limit, sell):
    context = risk_context(positions={"A": held} if abs(held) > 1e-6 else {}, prices={"A": 10.0})
    side = OrderSide.SELL if sell else OrderSide.BUY
    request = order_request(context, "A", qty, side)
    after = context.position_quantity("A") + (-qty if sell else qty)
    gross_after = abs(after) * 10.0
    rejection = decide(context, request, max_gross=limit)
    if gross_after <= context.gross_exposure() or gross_after <= limit * (1 - 1e-9):
        assert rejection is None
    elif gross_after > limit * (1 + 1e-9):
        assert rejection is not None and rejection.check == "exposure"


@pytest.mark.parametrize(
    "bad",
    [
        {"max_gross": 0},
        {"max_gross": -1},
        {"max_net": float("inf")},
        {"max_gross": float("nan")},
        {"gross": 5},
    ],
)
def test_bad_config_is_refused(bad):
    with pytest.raises(ValidationError):
        ExposureConfig.model_validate(bad)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("exposure")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("exposure", ExposureCheck, ExposureConfig)


def test_non_finite_exposure_fails_closed():
    context = risk_context(positions={"A": 100}, prices=PRICES)
    context._gross = float(
        "nan"
    )  # whatever corrupted the book, the check must not wave orders through
    assert (
        "cannot be valued" in decide(context, order_request(context, "A", 1), max_gross=1e9).reason
    )


def test_decides_from_the_running_totals_without_reading_positions():
    context = risk_context(
        positions={f"S{i}": 10 for i in range(500)}, prices={f"S{i}": 10.0 for i in range(500)}
    )

    def forbidden():
        raise AssertionError("exposure walked the positions instead of using the running totals")

    context.positions = forbidden
    assert context.gross_exposure() == 50_000
    assert decide(context, order_request(context, "S1", 100), max_gross=51_000) is None
    assert decide(context, order_request(context, "S1", 101), max_gross=51_000) is not None


def _accept(check, context, asset, qty, side=OrderSide.BUY):
    """What SafeBroker does with an order that passed: tell the checks, track it as working."""
    request = order_request(context, asset, qty, side)
    assert check.ml4t_live_check_order(order=request, context=context) is None
    check.ml4t_live_on_order_accepted(order=request, context=context)
    return add_pending(context, asset, qty, side, OrderType.MARKET, None)


def test_working_orders_for_other_assets_count_in_the_same_bar():
    """A rebalance sends every order before any fills: together they must fit the limit."""
    check = ExposureCheck(ExposureConfig(max_gross=20_000))
    context = risk_context(positions={"A": 100}, prices={**PRICES, "C": 10.0})  # gross 10,000
    _accept(check, context, "B", 100, OrderSide.SELL)  # +5,000 working
    assert (
        check.ml4t_live_check_order(order=order_request(context, "C", 500), context=context) is None
    )
    rejection = check.ml4t_live_check_order(order=order_request(context, "C", 501), context=context)
    assert rejection.reason == (
        "gross exposure would be 20,010.00 after buy 501 C "
        "(now 10,000.00, working orders +5,000.00, max 20,000.00)"
    )


def test_cancelled_or_filled_working_orders_stop_counting_twice():
    check = ExposureCheck(ExposureConfig(max_gross=20_000))
    context = risk_context(positions={"A": 100}, prices={**PRICES, "C": 10.0})
    working = _accept(check, context, "B", 100, OrderSide.SELL)
    assert check.ml4t_live_check_order(order=order_request(context, "C", 501), context=context)
    context._remove_pending(working)  # cancelled
    assert (
        check.ml4t_live_check_order(order=order_request(context, "C", 1000), context=context)
        is None
    )
    assert check.ml4t_live_check_order(order=order_request(context, "C", 1001), context=context)

    filled = _accept(check, context, "B", 100, OrderSide.SELL)
    fill = Fill(filled.order_id, "B", OrderSide.SELL, 100, 50.0, START)
    context._on_fill(FillEvent(fill, order_complete=True))  # now in gross (15,000), not working
    assert context.gross_exposure() == 15_000
    assert (
        check.ml4t_live_check_order(order=order_request(context, "C", 500), context=context) is None
    )
    assert check.ml4t_live_check_order(order=order_request(context, "C", 501), context=context)
