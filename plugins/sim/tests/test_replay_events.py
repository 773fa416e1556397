"""Replay events: one per timestamp, every asset's bar in it, in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ml4t_live_sim.feeds import FeedDataError, frame_to_events, load_bars

from ml4t_live_core.bars import Bars, column_closes

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from(["A", "B", "C"]), st.floats(1, 1e4)),
        min_size=1,
        max_size=60,
        unique_by=lambda r: (r[0], r[1]),
    )
)
def test_events_group_rows_by_timestamp(rows):
    frame = pl.DataFrame(
        {
            "timestamp": [T0 + timedelta(minutes=m) for m, _, _ in rows],
            "asset": [a for _, a, _ in rows],
            "open": [p for *_, p in rows],
            "high": [p * 1.01 for *_, p in rows],
            "low": [p * 0.99 for *_, p in rows],
            "close": [p for *_, p in rows],
            "volume": [1.0] * len(rows),
        }
    )
    events = frame_to_events(load_bars(frame))
    expected: dict[datetime, dict[str, float]] = {}
    for minute, asset, price in rows:
        expected.setdefault(T0 + timedelta(minutes=minute), {})[asset] = price
    assert [ts for ts, _, _ in events] == sorted(expected)
    for ts, data, context in events:
        assert {a: bar["close"] for a, bar in data.items()} == expected[ts] and context == {}
        assert all(set(bar) == {"open", "high", "low", "close", "volume"} for bar in data.values())


def test_an_asset_twice_at_one_timestamp_is_refused_naming_the_time():
    frame = pl.DataFrame(
        {
            "timestamp": [T0, T0], "asset": ["A", "A"], "open": [1.0, 1.0], "high": [1.0, 1.0],
            "low": [1.0, 1.0], "close": [1.0, 1.1], "volume": [1.0, 1.0],
        }
    )
    with pytest.raises(FeedDataError, match="2024-01-02 14:30.*twice"):
        frame_to_events(load_bars(frame))


def test_events_carry_their_closes_by_column_for_the_loop():
    frame = pl.DataFrame(
        {
            "timestamp": [T0, T0], "asset": ["A", "B"], "open": [1.0, 2.0], "high": [1.5, 2.5],
            "low": [0.5, 1.5], "close": [1.2, 2.2], "volume": [10.0, 20.0],
        }
    )
    [(_, data, _)] = frame_to_events(load_bars(frame))
    assert isinstance(data, Bars) and column_closes(data) == {"A": 1.2, "B": 2.2}
    assert data.highs == {"A": 1.5, "B": 2.5} and data.volumes == {"A": 10.0, "B": 20.0}
