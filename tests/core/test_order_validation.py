"""Bad input to submit_order gets a clear ValueError and nothing reaches the broker."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from ml4t.backtest import OrderSide, OrderType, Strategy
from ml4t_live_sim import SimBroker

from ml4t_live_core.orders import validate_order_args


class CountingSimBroker(SimBroker):
    """The real sim broker, counting what reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []

    async def submit_order(self, order):  # type: ignore[no-untyped-def]
        self.received.append(order)
        return await super().submit_order(order)


BAD_CALLS = [
    (dict(asset="A000", quantity=math.nan), "finite"),
    (dict(asset="A000", quantity=math.inf), "finite"),
    (dict(asset="A000", quantity=-math.inf), "finite"),
    (dict(asset="A000", quantity=0), "non-zero"),
    (dict(asset="A000", quantity=-5, side=OrderSide.BUY), "negative"),
    (dict(asset="", quantity=5), "asset"),
    (dict(asset="   ", quantity=5), "asset"),
    (dict(asset=None, quantity=5), "asset"),
    (dict(asset="A000", quantity=5, order_type=OrderType.LIMIT), "limit_price is required"),
    (
        dict(asset="A000", quantity=5, order_type=OrderType.LIMIT, limit_price=-1.0),
        "limit_price must be a finite positive",
    ),
    (
        dict(asset="A000", quantity=5, order_type=OrderType.STOP, stop_price=0.0),
        "stop_price must be a finite positive",
    ),
    (dict(asset="A000", quantity=5, order_type=OrderType.STOP), "stop_price is required"),
    (
        dict(asset="A000", quantity=5, order_type=OrderType.TRAILING_STOP),
        "trail_amount is required",
    ),
    (
        dict(asset="A000", quantity=5, order_type=OrderType.LIMIT, limit_price=math.nan),
        "finite positive",
    ),
    (dict(asset="A000", quantity=True), "finite real number"),
    (dict(asset="A000", quantity="10"), "finite real number"),
]


class BadOrders(Strategy):
    def __init__(self) -> None:
        self.errors: list[str] = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.errors:
            return
        for kwargs, _ in BAD_CALLS:
            try:
                broker.submit_order(**kwargs)
            except ValueError as exc:
                self.errors.append(str(exc))
            else:
                self.errors.append("NO ERROR")


async def test_bad_orders_raise_and_never_reach_the_broker(make_runtime):
    strategy = BadOrders()
    broker = CountingSimBroker()
    runtime = make_runtime(strategy, broker=broker)
    await runtime.engine.run(install_signal_handlers=False)
    assert len(strategy.errors) == len(BAD_CALLS)
    for message, (_, expected) in zip(strategy.errors, BAD_CALLS, strict=True):
        assert expected in message
    assert broker.received == []
    assert runtime.safe.stats.orders_submitted == 0


@given(
    quantity=st.floats(allow_nan=True, allow_infinity=True), price=st.one_of(st.none(), st.floats())
)
def test_validation_accepts_only_finite_nonzero_quantities_and_positive_prices(quantity, price):
    try:
        asset, qty, side = validate_order_args(
            "AAPL", quantity, None, OrderType.LIMIT, price, None, None
        )
    except ValueError:
        assert (
            not math.isfinite(quantity)
            or quantity == 0
            or price is None
            or not math.isfinite(price)
            or price <= 0
        )
    else:
        assert qty == abs(quantity) > 0 and math.isfinite(qty)
        assert side is (OrderSide.BUY if quantity > 0 else OrderSide.SELL)
        assert price is not None and price > 0
