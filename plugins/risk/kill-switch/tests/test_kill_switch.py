"""kill-switch: what each trading state lets through."""

from __future__ import annotations

import pytest
from ml4t.backtest import OrderSide
from ml4t_live_risk_kill_switch.check import KillSwitchCheck, KillSwitchConfig
from ml4t_live_testing.risk import assert_registered_check, order_request, risk_context
from pydantic import ValidationError

from ml4t_live_core.risk import TradingState


def _context(state: TradingState, positions: dict[str, float] | None = None):
    context = risk_context(
        positions=positions or {"AAPL": 100.0, "MSFT": -50.0},
        prices={"AAPL": 150.0, "MSFT": 300.0, "IBM": 120.0},
    )
    context.risk_state.trading_state = state
    context.risk_state.trading_state_reason = "drawdown 12% > 10%"
    return context


def _check(context, *args, **kwargs):
    return KillSwitchCheck().ml4t_live_check_order(
        order=order_request(context, *args, **kwargs), context=context
    )


def test_active_lets_every_order_through():
    context = _context(TradingState.ACTIVE)
    assert _check(context, "IBM", 1_000) is None
    assert _check(context, "AAPL", 500) is None


def test_halted_rejects_new_orders_with_the_recorded_reason():
    context = _context(TradingState.HALTED)
    rejection = _check(context, "IBM", 10)
    assert rejection is not None and rejection.check == "kill-switch"
    assert "HALTED" in rejection.reason and "drawdown 12% > 10%" in rejection.reason


def test_halted_rejects_a_reducing_order_that_is_not_a_close():
    context = _context(TradingState.HALTED)
    assert _check(context, "AAPL", -40) is not None


def test_halted_passes_a_close_that_reduces_the_position():
    context = _context(TradingState.HALTED)
    assert _check(context, "AAPL", -100, is_close=True) is None
    assert _check(context, "MSFT", 50, is_close=True) is None


def test_halted_rejects_a_close_that_would_flip_or_open():
    context = _context(TradingState.HALTED)
    assert _check(context, "AAPL", -101, is_close=True) is not None  # flips to short
    assert _check(context, "IBM", -10, is_close=True) is not None  # nothing to close
    assert _check(context, "AAPL", 10, is_close=True) is not None  # same side: grows


def test_reducing_passes_only_orders_that_shrink_a_position():
    context = _context(TradingState.REDUCING)
    assert _check(context, "AAPL", -100) is None  # exactly flat: just inside
    assert _check(context, "MSFT", 20) is None
    rejection = _check(context, "AAPL", -100.5)  # just outside: would flip
    assert rejection is not None and "REDUCING" in rejection.reason
    assert _check(context, "AAPL", 1) is not None  # grows
    assert _check(context, "IBM", 1) is not None  # opens


def test_schema_takes_no_settings():
    with pytest.raises(ValidationError, match="extra"):
        KillSwitchConfig.model_validate({"enabled": False})


def test_side_given_explicitly_is_respected():
    context = _context(TradingState.REDUCING)
    assert _check(context, "AAPL", 30, OrderSide.SELL) is None
    assert _check(context, "AAPL", 30, OrderSide.BUY) is not None


def test_registered_through_its_entry_point_with_its_schema(load_only):
    load_only("kill-switch")  # the plugin alone, as `nox -s isolation` installs it
    assert_registered_check("kill-switch", KillSwitchCheck, KillSwitchConfig)
