"""Shared fixtures: a composed runtime on the sim broker with an injectable feed and store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest
from ml4t.backtest import Strategy
from ml4t_live_sim import ReplayFeed, SyntheticConfig
from ml4t_live_sim.feeds import synthetic_bars

from ml4t_live_core.compose import Runtime, build
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import LOAD_ENV_VAR


@pytest.fixture
def bars() -> pl.DataFrame:
    """Three assets, 60 one-minute bars, seeded."""
    return synthetic_bars(SyntheticConfig(assets=3, bars=60, seed=3))


@pytest.fixture
def make_runtime(bars: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Runtime]:
    """Build a runtime over a replay of `bars`. By default only the sim plugin loads, so core
    behaviour is tested without risk checks; pass only=None to load every installed plugin."""

    def make(
        strategy: Strategy,
        *,
        data: pl.DataFrame | None = None,
        overrides: dict[str, Any] | None = None,
        store: Any = None,
        only: str | None = "sim",
        **kwargs: Any,
    ) -> Runtime:
        if only is None:
            monkeypatch.delenv(LOAD_ENV_VAR, raising=False)
        else:
            monkeypatch.setenv(LOAD_ENV_VAR, only)
        feed = kwargs.pop("feed", None) or ReplayFeed(data=bars if data is None else data)
        merged = {"runtime": {"strategy_id": "test"}} | (overrides or {})
        return build(
            strategy, None, overrides=merged, feed=feed, store=store or MemoryStateStore(), **kwargs
        )

    return make
