"""match_price: how one order executes against one OHLC bar (the sim and shadow venues)."""

from __future__ import annotations

from ml4t.backtest import Order, OrderSide, OrderType

from ml4t_live_core.orders import match_price

BAR = {"open": 100.0, "high": 103.0, "low": 97.0, "close": 101.0}


def test_buy_limit_fills_at_the_limit_or_a_better_open() -> None:
    at_limit = Order("A", OrderSide.BUY, 1, OrderType.LIMIT, limit_price=98.0)
    better_open = Order("A", OrderSide.BUY, 1, OrderType.LIMIT, limit_price=102.0)
    assert match_price(at_limit, BAR) == 98.0
    assert match_price(better_open, BAR) == 100.0


def test_limit_orders_without_a_limit_price_never_match() -> None:
    for kind, stop in ((OrderType.LIMIT, None), (OrderType.STOP_LIMIT, 99.0)):
        order = Order("A", OrderSide.SELL, 1, kind, stop_price=stop)
        assert match_price(order, BAR) is None


def test_stop_limit_triggers_then_respects_its_limit() -> None:
    kept = Order("A", OrderSide.BUY, 1, OrderType.STOP_LIMIT, stop_price=102.0, limit_price=102.5)
    too_dear = Order(
        "A", OrderSide.BUY, 1, OrderType.STOP_LIMIT, stop_price=102.0, limit_price=101.0
    )
    assert match_price(kept, BAR) == 102.0
    assert match_price(too_dear, BAR) is None
