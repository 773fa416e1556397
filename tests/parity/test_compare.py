"""`compare` reports every disagreement, and only disagreements beyond the tolerance."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml4t_live_core.parity import (
    FillRow,
    OrderRow,
    ParityError,
    RunRecord,
    Tolerance,
    compare,
    load_prices,
)

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def record() -> RunRecord:
    return RunRecord(
        orders=[OrderRow(T0, "A", "buy", 10, 10, "limit", 99.5, None, "filled")],
        fills=[FillRow(T0, "A", "buy", 10, 99.5, 0.05)],
        positions={"A": 10.0},
        cash=99_004.95,
    )


def test_identical_records_agree():
    assert compare(record(), record(), Tolerance()) == []


@pytest.mark.parametrize(
    "change, kind",
    [
        (lambda r: r.fills.__setitem__(0, dataclasses.replace(r.fills[0], price=99.6)), "fill"),
        (
            lambda r: r.fills.__setitem__(
                0, dataclasses.replace(r.fills[0], timestamp=T0 + timedelta(minutes=1))
            ),
            "fill",
        ),
        (lambda r: r.fills.__setitem__(0, dataclasses.replace(r.fills[0], quantity=9)), "fill"),
        (
            lambda r: r.fills.__setitem__(0, dataclasses.replace(r.fills[0], commission=0.06)),
            "fill",
        ),
        (lambda r: r.fills.__setitem__(0, dataclasses.replace(r.fills[0], side="sell")), "fill"),
        (lambda r: r.fills.append(FillRow(T0, "B", "buy", 1, 5.0, 0.0)), "fill"),
        (
            lambda r: r.orders.__setitem__(0, dataclasses.replace(r.orders[0], status="cancelled")),
            "order",
        ),
        (
            lambda r: r.orders.__setitem__(0, dataclasses.replace(r.orders[0], limit_price=99.4)),
            "order",
        ),
        (
            lambda r: r.orders.__setitem__(
                0, dataclasses.replace(r.orders[0], created=T0 + timedelta(minutes=1))
            ),
            "order",
        ),
        (lambda r: r.orders.clear(), "order"),
        (lambda r: r.positions.__setitem__("A", 11.0), "position"),
        (lambda r: r.positions.__setitem__("B", -1.0), "position"),
        (lambda r: setattr(r, "cash", 99_004.0), "cash"),
        (lambda r: setattr(r, "cash", math.nan), "cash"),
    ],
)
def test_each_kind_of_disagreement_is_reported(change, kind):
    live = record()
    change(live)
    diffs = compare(record(), live, Tolerance())
    assert [d.kind for d in diffs] == [kind]


@given(st.floats(min_value=-1e-7, max_value=1e-7, allow_nan=False))
def test_price_noise_within_tolerance_is_not_a_difference(noise):
    live = record()
    live.fills[0] = dataclasses.replace(live.fills[0], price=99.5 * (1 + noise))
    assert compare(record(), live, Tolerance(price_rel=1e-6)) == []


def test_requested_quantity_is_shown_but_only_the_executed_quantity_compared():
    live = record()
    live.orders[0] = dataclasses.replace(
        live.orders[0], quantity=10.4
    )  # the backtest rounded it at fill
    assert compare(record(), live, Tolerance()) == []


def test_bad_price_data_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ParityError, match="does not exist"):
        load_prices(tmp_path / "nope.parquet")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"not parquet at all")
    with pytest.raises(ParityError, match="cannot be read"):
        load_prices(corrupt)
    frame = pl.DataFrame(
        {
            "timestamp": [T0],
            "asset": ["A"],
            "open": [1.0],
            "high": [1.0],
            "low": [1.0],
            "close": [float("nan")],
            "volume": [1.0],
        }
    )
    with pytest.raises(ParityError, match="non-finite"):
        load_prices(frame)
    with pytest.raises(ParityError, match="lacks columns"):
        load_prices(frame.drop("volume"))
    with pytest.raises(ParityError, match="no rows"):
        load_prices(frame.clear())


def test_naive_timestamps_become_utc_and_integer_prices_floats():
    frame = pl.DataFrame(
        {
            "timestamp": [datetime(2024, 1, 2, 16)],
            "asset": ["A"],
            "open": [1],
            "high": [2],
            "low": [1],
            "close": [2],
            "volume": [10],
        }
    )
    loaded = load_prices(frame)
    assert loaded.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert loaded.schema["close"] == pl.Float64
