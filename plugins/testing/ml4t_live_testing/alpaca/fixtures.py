"""pytest fixtures for the Alpaca simulator (exported through the kit's pytest11 entry point).

    def test_my_strategy(alpaca_sim, alpaca_env):
        # alpaca_env set APCA_API_KEY_ID / APCA_API_SECRET_KEY to the simulator's fake pair
        config = alpaca_broker_settings(alpaca_sim)   # -> the [broker.alpaca] table
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ml4t_live_testing.alpaca.simulator import AlpacaSimulator

#: Fake credentials: tests assert that neither string ever shows up in logs, journals or errors.
FAKE_KEY_ID = "PKSIMKEY7Q2W4E6R8T0Y"
FAKE_SECRET = "simSecret-9z8y7x6w5v4u3t2s1r0q-DO-NOT-LEAK"


def alpaca_broker_settings(sim: AlpacaSimulator, **overrides: Any) -> dict[str, Any]:
    """A [broker.alpaca] table pointing at `sim`, with short timeouts and backoffs for tests."""
    settings: dict[str, Any] = {
        "paper": True,
        "base_url": sim.base_url,
        "stream_url": sim.trading_stream_url,
        "http_timeout": 2.0,
        "retry_attempts": 4,
        "retry_initial_backoff": 0.01,
        "retry_max_backoff": 0.2,
        "reconnect_initial_backoff": 0.01,
        "reconnect_max_backoff": 0.1,
        "stream_open_timeout": 2.0,
    }
    return settings | overrides


def alpaca_feed_settings(
    sim: AlpacaSimulator, assets: list[str], **overrides: Any
) -> dict[str, Any]:
    """A [feed.alpaca] table pointing at `sim`'s data stream and historical endpoint."""
    settings: dict[str, Any] = {
        "assets": assets,
        "feed": "iex",
        "base_url": sim.base_url,
        "stream_url": sim.data_stream_url("iex"),
        "http_timeout": 2.0,
        "retry_attempts": 3,
        "retry_initial_backoff": 0.01,
        "retry_max_backoff": 0.1,
        "reconnect_initial_backoff": 0.01,
        "reconnect_max_backoff": 0.1,
        "bar_wait_seconds": 1.0,
    }
    return settings | overrides


@pytest.fixture
def alpaca_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Set the Alpaca credential variables to the simulator's fake pair."""
    monkeypatch.setenv("APCA_API_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", FAKE_SECRET)
    return {"APCA_API_KEY_ID": FAKE_KEY_ID, "APCA_API_SECRET_KEY": FAKE_SECRET}


@pytest.fixture
def alpaca_sim() -> Iterator[AlpacaSimulator]:
    """A running simulator on 127.0.0.1 with $100,000 cash; market orders fill at the last price."""
    with AlpacaSimulator(api_key=FAKE_KEY_ID, secret_key=FAKE_SECRET) as sim:
        yield sim


@pytest.fixture
def alpaca_sim_manual() -> Iterator[AlpacaSimulator]:
    """A simulator that fills nothing by itself: the test calls `fill` / `partial_fill`."""
    with AlpacaSimulator(api_key=FAKE_KEY_ID, secret_key=FAKE_SECRET, auto_fill=False) as sim:
        yield sim


__all__ = [
    "FAKE_KEY_ID",
    "FAKE_SECRET",
    "AlpacaSimulator",
    "alpaca_broker_settings",
    "alpaca_env",
    "alpaca_feed_settings",
    "alpaca_sim",
    "alpaca_sim_manual",
]
