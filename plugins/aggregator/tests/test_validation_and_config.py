"""Bad input is rejected, counted and named, never folded into a bar; bad config fails at
start-up."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from ml4t_live_aggregator import (
    AggregatorConfig,
    BarAggregator,
    InvalidTickError,
    add_batch,
    parse_interval,
)
from pydantic import ValidationError

from ml4t_live_core.compose import load_config
from ml4t_live_core.errors import ConfigError

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
GOOD = {"price": 10.0, "size": 2.0}
BAR = {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 100.0}


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"price": math.nan, "size": 1.0}, "nan"),
        ({"price": math.inf, "size": 1.0}, "inf"),
        ({"price": 0.0, "size": 1.0}, "not positive"),
        ({"price": -5.0, "size": 1.0}, "not positive"),
        ({"price": 10.0, "size": -1.0}, "negative"),
        ({"price": 10.0, "size": math.nan}, "nan"),
        ({"price": "10", "size": 1.0}, "not a number"),
        ({"price": True, "size": 1.0}, "not a number"),
        ({"price": None, "size": 1.0}, "not a number"),
        ({**BAR, "high": 9.5}, "do not bracket"),
        ({**BAR, "low": 10.8}, "do not bracket"),
        ({**BAR, "volume": -1.0}, "negative"),
        ({**BAR, "close": math.inf}, "inf"),
        ({k: v for k, v in BAR.items() if k != "volume"}, "lacks ['volume']"),
        ({"bid": 10.0}, "neither a tick"),
        (10.0, "expected a tick or bar dict"),
        (
            {"price": 10.0, "size": 1.0, "timestamp": datetime(2024, 3, 4, 14, 30, 5)},
            "timezone-aware",
        ),
    ],
)
def test_invalid_input_is_rejected_counted_named_and_never_folded(payload, why):
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    agg.add_event(T0, {"AAA": GOOD})
    agg.add_event(T0 + timedelta(seconds=1), {"AAA": payload})
    assert agg.stats.rejected == 1
    assert why in agg.stats.last_rejection and "AAA" in agg.stats.last_rejection
    assert (
        "2024-03-04 14:30:01" in agg.stats.last_rejection or "timestamp" in agg.stats.last_rejection
    )
    ((_, data, _),) = agg.finish()
    assert data == {"AAA": {"open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0, "volume": 2.0}}


def test_rejected_asset_is_not_a_phantom_bar_and_good_assets_in_the_same_event_still_count():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    agg.add_event(T0, {"BAD": {"price": -1.0, "size": 1}, "OK": [GOOD, {"price": 11.0, "size": 1}]})
    ((_, data, _),) = agg.finish()
    assert set(data) == {"OK"} and data["OK"]["volume"] == 3.0 and agg.stats.rejected == 1


def test_numpy_scalars_are_numbers():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    agg.add_event(T0, {"AAA": {"price": np.float32(10.5), "size": np.int64(3)}})
    ((_, data, _),) = agg.finish()
    assert data["AAA"]["volume"] == 3.0 and agg.stats.rejected == 0


def test_batch_rejects_bad_rows_and_keeps_good_ones():
    frame = pl.DataFrame(
        {
            "timestamp": [T0 + timedelta(seconds=i) for i in range(6)],
            "asset": ["A", "A", "A", "A", None, "A"],
            "price": [10.0, math.nan, -1.0, 11.0, 12.0, None],
            "size": [1.0, 1.0, 1.0, -2.0, 1.0, 1.0],
        }
    )
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    add_batch(agg, frame)
    ((_, data, _),) = agg.finish()
    assert data == {"A": {"open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0, "volume": 1.0}}
    assert agg.stats.rejected == 5
    assert (
        "A at 2024-03-04 14:30:03" in agg.stats.last_rejection
        and "size=-2.0" in agg.stats.last_rejection
    )


def test_batch_needs_timezone_aware_timestamps_and_the_tick_columns():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    naive = pl.DataFrame(
        {"timestamp": [datetime(2024, 3, 4)], "asset": ["A"], "price": [1.0], "size": [1.0]}
    )
    with pytest.raises(InvalidTickError, match="timezone-aware"):
        add_batch(agg, naive)
    with pytest.raises(InvalidTickError, match=r"lacks columns \['size'\]"):
        add_batch(agg, naive.drop("size"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1min", 60),
        ("5min", 300),
        ("15min", 900),
        ("1h", 3600),
        ("30s", 30),
        ("4h", 14400),
        ("1d", 86400),
        (" 2m ", 120),
    ],
)
def test_interval_parsing(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("7min", "divides neither"),
        ("0min", "longer than zero"),
        ("5 minutes", "is not like"),
        ("", "is not like"),
        ("2d", "divides neither"),
        ("-1min", "is not like"),
    ],
)
def test_bad_intervals_are_refused(text, why):
    with pytest.raises(ValueError, match=why):
        parse_interval(text)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"flush_after": -1}, "flush_after"),
        ({"flush_after": math.nan}, "flush_after"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"calendar": "NOPE"}, "calendar"),
        ({"backpressure": "drop_newest"}, "backpressure"),
        ({"max_pending_bars": 0}, "max_pending_bars"),
        ({"flush_afterr": 2}, "flush_afterr"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(options, key):
    with pytest.raises(ValidationError, match=key):
        AggregatorConfig(interval="1min", **options)


def test_config_errors_name_the_feed_aggregator_section(load_only):
    load_only("sim", "aggregator")  # the replay feed it wraps is the sim plugin's
    with pytest.raises(ConfigError) as err:
        load_config(None, overrides={"feed": {"use": "replay", "aggregate": "7min"}})
    assert "feed.aggregator" in str(err.value) and "interval" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(
            None,
            overrides={"feed": {"use": "replay", "aggregate": "1min", "aggregator": {"flush": 1}}},
        )
    assert "feed.aggregator" in str(err.value) and "flush" in str(err.value)


def test_config_file_selects_the_aggregator_with_its_settings(tmp_path, load_only):
    load_only("sim", "aggregator")
    path = tmp_path / "live.toml"
    path.write_text(
        '[feed]\nuse = "replay"\naggregate = "15min"\n'
        '[feed.aggregator]\nflush_after = 5\ncalendar = "XNYS"\n'
    )
    cfg, _ = load_config(path)
    ((name, options),) = cfg.wrappers
    assert name == "aggregate" and options.interval_seconds == 900 and options.flush_after == 5.0
    assert options.calendar == "XNYS"


def test_a_tick_from_the_future_is_rejected_and_does_not_close_open_bars():
    agg = BarAggregator(AggregatorConfig(interval="1min", max_clock_skew=5))
    now = T0 + timedelta(seconds=30)
    agg.add_event(T0 + timedelta(seconds=10), {"AAA": GOOD}, now=now)
    assert agg.add_event(datetime(2099, 1, 1, tzinfo=UTC), {"AAA": GOOD}, now=now) == []
    assert agg.stats.rejected == 1 and "ahead of the clock" in agg.stats.last_rejection
    agg.add_event(T0 + timedelta(seconds=20), {"AAA": {"price": 11.0, "size": 1.0}}, now=now)
    assert agg.stats.late == 0
    ((_, data, _),) = agg.finish()
    assert data["AAA"]["volume"] == 3.0


def test_batch_rejects_rows_from_the_future():
    frame = pl.DataFrame(
        {
            "timestamp": [T0, T0 + timedelta(days=1)],
            "asset": ["A", "B"],
            "price": [1.0, 2.0],
            "size": [1.0, 1.0],
        }
    )
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    add_batch(agg, frame, now=T0 + timedelta(seconds=1))
    ((_, data, _),) = agg.finish()
    assert (
        set(data) == {"A"}
        and agg.stats.rejected == 1
        and "B at 2024-03-05" in agg.stats.last_rejection
    )


def test_ticks_carry_their_own_timestamps_inside_one_event():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    events = agg.add_event(
        T0 + timedelta(seconds=90),
        {
            "AAA": [
                {"price": 10.0, "size": 1.0, "timestamp": T0 + timedelta(seconds=5)},
                {"price": 12.0, "size": 1.0, "timestamp": T0 + timedelta(seconds=65)},
            ]
        },
    )
    events += agg.finish()
    assert [(ts, d["AAA"]["close"]) for ts, d, _ in events] == [
        (T0, 10.0),
        (T0 + timedelta(minutes=1), 12.0),
    ]


def test_a_naive_event_timestamp_rejects_the_whole_event():
    agg = BarAggregator(AggregatorConfig(interval="1min"))
    assert agg.add_event(datetime(2024, 3, 4, 14, 30), {"AAA": GOOD, "BBB": GOOD}) == []
    assert agg.stats.rejected == 1 and "timezone-aware" in agg.stats.last_rejection
    assert "AAA" in agg.stats.last_rejection and agg.finish() == []
