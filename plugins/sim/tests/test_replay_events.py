"""Replay events: one per timestamp, every asset's bar in it, in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from ml4t_live_sim.feeds import frame_to_events, load_bars

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
