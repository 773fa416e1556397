"""ml4t orders -> IB orders: every field carried, bad prices and quantities refused (hypothesis)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ml4t.backtest import Order, OrderSide, OrderType
from ml4t_live_ib.orders import UnsupportedOrderError, to_ib_order
from ml4t_live_testing.ib.wire import frame

finite_positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
bad = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.floats(max_value=0.0, allow_nan=False),
)


@given(
    qty=finite_positive,
    limit=finite_positive,
    stop=finite_positive,
    side=st.sampled_from(OrderSide),
)
def test_stop_limit_carries_every_field(qty, limit, stop, side):
    order = Order(
        asset="AAPL",
        side=side,
        quantity=qty,
        order_type=OrderType.STOP_LIMIT,
        limit_price=limit,
        stop_price=stop,
        order_id="ml4t-1",
    )
    ib = to_ib_order(order, account="DU1")
    assert (ib.action, ib.totalQuantity, ib.orderType) == (
        "BUY" if side is OrderSide.BUY else "SELL",
        qty,
        "STP LMT",
    )
    assert (ib.lmtPrice, ib.auxPrice, ib.orderRef, ib.account) == (limit, stop, "ml4t-1", "DU1")


@given(qty=bad)
def test_bad_quantity_is_refused(qty):
    order = Order(asset="AAPL", side=OrderSide.BUY, quantity=qty, order_id="x")
    with pytest.raises(UnsupportedOrderError, match="quantity must be positive and finite"):
        to_ib_order(order, account="DU1")


@given(
    price=st.one_of(bad, st.none()),
    order_type=st.sampled_from([OrderType.LIMIT, OrderType.STOP, OrderType.TRAILING_STOP]),
)
def test_missing_or_bad_price_is_refused(price, order_type):
    order = Order(
        asset="AAPL",
        side=OrderSide.SELL,
        quantity=1,
        order_type=order_type,
        limit_price=price,
        stop_price=price,
        trail_amount=price,
        order_id="x",
    )
    with pytest.raises(UnsupportedOrderError, match="needs a positive finite"):
        to_ib_order(order, account="DU1")


def test_market_on_close_is_not_silently_sent():
    order = Order(
        asset="AAPL", side=OrderSide.BUY, quantity=1, order_type=OrderType.MOC, order_id="x"
    )
    with pytest.raises(UnsupportedOrderError, match="does not send moc"):
        to_ib_order(order, account="DU1")


@given(
    st.lists(
        st.one_of(
            st.integers(),
            st.text(
                alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))
            ),
            st.booleans(),
            st.none(),
        ),
        max_size=30,
    )
)
def test_frame_round_trips_as_the_client_splits_it(fields):
    data = frame(fields)
    size = struct.unpack(">I", data[:4])[0]
    assert size == len(data) - 4
    decoded = data[4:].decode().split("\0")
    decoded.pop()  # what ib_async does: the last NUL leaves an empty tail
    expected = [
        "" if f is None else ("1" if f else "0") if isinstance(f, bool) else str(f) for f in fields
    ]
    assert decoded == expected
