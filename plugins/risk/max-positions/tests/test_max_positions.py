"""max-positions: no new position once the limit is reached; existing ones may change freely."""

from __future__ import annotations

import pytest
from ml4t.backtest import Fill, OrderSide
from ml4t_live_risk_max_positions.check import MaxPositionsCheck, MaxPositionsConfig
from ml4t_live_testing.risk import (
    START,
    add_pending,
    assert_registered_check,
    order_request,
    risk_context,
)
from pydantic import ValidationError

from ml4t_live_core.protocols import FillEvent

PRICES = {"A": 10.0, "B": 20.0, "C": 30.0, "D": 40.0}


def decide(context, request, limit=2):
    return MaxPositionsCheck(MaxPositionsConfig(max_positions=limit)).ml4t_live_check_order(
        order=request, context=context
    )


def test_opening_just_below_the_limit_passes_and_at_the_limit_is_rejected():
    below = risk_context(positions={"A": 10}, prices=PRICES)
    assert decide(below, order_request(below, "C", 5)) is None
    full = risk_context(positions={"A": 10, "B": -5}, prices=PRICES)
    rejection = decide(full, order_request(full, "C", 5))
    assert rejection.check == "max-positions"
    assert rejection.reason == "opening C would make 3 positions (2 open, max 2)"


def test_a_short_opening_counts_as_a_new_position():
    full = risk_context(positions={"A": 10, "B": 5}, prices=PRICES)
    assert decide(full, order_request(full, "C", 5, OrderSide.SELL)) is not None


@pytest.mark.parametrize(
    ("asset", "qty", "side"),
    [
        ("A", 5, OrderSide.BUY),  # adding to a long
        ("A", 5, OrderSide.SELL),  # reducing
        ("A", 10, OrderSide.SELL),  # closing
        ("A", 30, OrderSide.SELL),  # flipping is still the same asset
        ("B", 5, OrderSide.SELL),  # adding to a short
    ],
)
def test_orders_on_held_assets_always_pass_at_the_limit(asset, qty, side):
    full = risk_context(positions={"A": 10, "B": -5}, prices=PRICES)
    assert decide(full, order_request(full, asset, qty, side), limit=1) is None


def test_off_by_default():
    full = risk_context(positions={"A": 10, "B": -5, "C": 1}, prices=PRICES)
    check = MaxPositionsCheck(MaxPositionsConfig())
    assert check.ml4t_live_check_order(order=order_request(full, "D", 1), context=full) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"max_positions": 0},
        {"max_positions": -1},
        {"max_positions": 1.5},
        {"max_positions": "many"},
        {"limit": 3},
    ],
)
def test_bad_config_is_refused(bad):
    with pytest.raises(ValidationError):
        MaxPositionsConfig.model_validate(bad)


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("max-positions")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("max-positions", MaxPositionsCheck, MaxPositionsConfig)


class _CountOnly(dict):
    """A positions map that may be counted but not walked: proves the check is O(1)."""

    def __iter__(self):
        raise AssertionError("the check iterated over the positions")

    keys = values = items = __iter__


def test_decides_without_walking_the_positions():
    context = risk_context(positions={f"S{i}": 1 for i in range(500)}, prices={"NEW": 1.0})
    held = _CountOnly(context.positions())
    context.positions = lambda: held
    assert decide(context, order_request(context, "NEW", 1), limit=500).reason.endswith(
        "(500 open, max 500)"
    )


def _accept(check, context, asset, qty=5, side=OrderSide.BUY):
    """What SafeBroker does with an order that passed: tell the checks, track it as working."""
    request = order_request(context, asset, qty, side)
    assert check.ml4t_live_check_order(order=request, context=context) is None
    check.ml4t_live_on_order_accepted(order=request, context=context)
    return add_pending(context, asset, qty, side)


def test_orders_still_working_for_new_assets_count_in_the_same_bar():
    check = MaxPositionsCheck(MaxPositionsConfig(max_positions=3))
    context = risk_context(positions={"A": 10}, prices=PRICES)
    _accept(check, context, "B")
    _accept(check, context, "C", side=OrderSide.SELL)
    rejection = check.ml4t_live_check_order(order=order_request(context, "D", 1), context=context)
    assert rejection.reason == "opening D would make 4 positions (1 open, 2 being opened, max 3)"
    # A further order on an asset that is being opened adds to it: not a new position.
    assert (
        check.ml4t_live_check_order(order=order_request(context, "B", 1), context=context) is None
    )


def test_cancelled_opening_orders_free_their_slot():
    check = MaxPositionsCheck(MaxPositionsConfig(max_positions=2))
    context = risk_context(positions={"A": 10}, prices=PRICES)
    working = _accept(check, context, "B")
    assert check.ml4t_live_check_order(order=order_request(context, "C", 1), context=context)
    context._remove_pending(working)  # cancelled (or rejected by the broker)
    assert (
        check.ml4t_live_check_order(order=order_request(context, "C", 1), context=context) is None
    )


def test_filled_opening_orders_are_counted_once():
    check = MaxPositionsCheck(MaxPositionsConfig(max_positions=3))
    context = risk_context(positions={"A": 10}, prices=PRICES)
    working = _accept(check, context, "B")
    fill = Fill(working.order_id, "B", OrderSide.BUY, 5, 20.0, START)
    context._on_fill(FillEvent(fill, order_complete=True))  # B is now a position, not "opening"
    assert set(context.positions()) == {"A", "B"}
    assert (
        check.ml4t_live_check_order(order=order_request(context, "C", 1), context=context) is None
    )
    _accept(check, context, "C")
    rejection = check.ml4t_live_check_order(order=order_request(context, "D", 1), context=context)
    assert rejection.reason == "opening D would make 4 positions (2 open, 1 being opened, max 3)"
