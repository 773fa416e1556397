"""Bars: rows and columns agree, and only finite positive float closes take the column path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml4t_live_core.bars import Bars, column_closes

PRICES = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)


def make(closes: list) -> Bars:  # type: ignore[type-arg]
    assets = [f"A{i}" for i in range(len(closes))]
    n = len(closes)
    return Bars.from_columns(assets, [1.0] * n, [2.0] * n, [0.5] * n, closes, [10.0] * n)


@given(st.lists(PRICES, min_size=1, max_size=30))
def test_rows_and_columns_hold_the_same_values(closes):
    bars = make(closes)
    assert bars.closes == {a: bar["close"] for a, bar in bars.items()}
    assert bars.opens == {a: bar["open"] for a, bar in bars.items()}
    assert bars.volumes == {a: bar["volume"] for a, bar in bars.items()}
    assert all(set(bar) == {"open", "high", "low", "close", "volume"} for bar in bars.values())
    assert column_closes(bars) == bars.closes


@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, -math.inf, 0.0, -1.0, 5, True, np.float64(5.0), None, "5"]
)
def test_one_unusable_close_sends_the_whole_bar_to_the_field_by_field_path(bad):
    bars = make([10.0, bad, 12.0])
    assert not bars.priced and column_closes(bars) is None


def test_plain_dicts_and_altered_bars_take_the_field_by_field_path():
    bars = make([10.0, 11.0])
    assert column_closes(dict(bars)) is None
    bars["EXTRA"] = {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 0.0}
    assert column_closes(bars) is None  # its columns no longer describe every row
    assert column_closes(make([])) is None


def test_an_asset_named_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        Bars.from_columns(["A", "A"], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0])
