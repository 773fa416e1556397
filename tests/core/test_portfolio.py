"""Cost basis, partial closes, flips and cash in the ledger shared by shadow mode and the sim."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ml4t.backtest import Fill, OrderSide

from ml4t_live_core.portfolio import Portfolio

T0 = datetime(2024, 1, 2, 15, tzinfo=UTC)


def fill(side: OrderSide, qty: float, price: float, commission: float = 0.0) -> Fill:
    return Fill(
        order_id="x",
        asset="AAPL",
        side=side,
        quantity=qty,
        price=price,
        timestamp=T0,
        commission=commission,
    )


def test_adding_to_a_position_averages_the_cost_basis():
    p = Portfolio(10_000)
    p.apply_fill(fill(OrderSide.BUY, 10, 100))
    p.apply_fill(fill(OrderSide.BUY, 30, 120))
    h = p.holdings["AAPL"]
    assert h.quantity == 40
    assert h.entry_price == pytest.approx((10 * 100 + 30 * 120) / 40)
    assert p.cash == pytest.approx(10_000 - 1_000 - 3_600)


def test_partial_close_keeps_cost_basis_and_books_realized_pnl():
    p = Portfolio(10_000)
    p.apply_fill(fill(OrderSide.BUY, 40, 100))
    p.apply_fill(fill(OrderSide.SELL, 15, 110, commission=1.0))
    h = p.holdings["AAPL"]
    assert h.quantity == 25 and h.entry_price == 100
    assert p.realized_pnl == pytest.approx(15 * 10)
    assert p.cash == pytest.approx(10_000 - 4_000 + 1_650 - 1.0)


def test_flip_from_long_to_short_opens_the_remainder_at_the_fill_price():
    p = Portfolio(10_000)
    p.apply_fill(fill(OrderSide.BUY, 10, 100))
    p.apply_fill(fill(OrderSide.SELL, 25, 90))
    h = p.holdings["AAPL"]
    assert h.quantity == -15 and h.entry_price == 90
    assert p.realized_pnl == pytest.approx(-100)
    assert p.cash == pytest.approx(10_000 - 1_000 + 2_250)
    p.apply_fill(fill(OrderSide.BUY, 15, 80))  # cover the short at a profit
    assert "AAPL" not in p.holdings
    assert p.realized_pnl == pytest.approx(-100 + 150)


def test_closing_exactly_removes_the_holding():
    p = Portfolio(1_000)
    p.apply_fill(fill(OrderSide.SELL, 5, 50))
    p.apply_fill(fill(OrderSide.BUY, 5, 40))
    assert p.holdings == {}
    assert p.cash == pytest.approx(1_050)


def test_holdings_map_is_replaced_not_mutated():
    p = Portfolio(1_000)
    before = p.holdings
    p.apply_fill(fill(OrderSide.BUY, 1, 10))
    assert before == {} and p.holdings is not before


@given(
    st.lists(
        st.tuples(
            st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
            st.integers(1, 500),
            st.floats(1, 1_000),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_equity_is_conserved_when_marked_at_the_fill_price(fills):
    """With no commission, equity marked at the last fill price = cash + realized + unrealized."""
    p = Portfolio(1_000_000)
    for side, qty, price in fills:
        p.apply_fill(fill(side, qty, price))
        h = p.holdings.get("AAPL")
        unrealized = (price - h.entry_price) * h.quantity if h else 0.0
        assert p.equity({"AAPL": price}) == pytest.approx(
            1_000_000 + p.realized_pnl + unrealized, rel=1e-9, abs=1e-6
        )
