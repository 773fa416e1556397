"""Parity fixtures: the example strategies, seeded minute and daily bars, sim-only plugins."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from ml4t_live_sim.config import SyntheticConfig
from ml4t_live_sim.feeds import synthetic_bars

from ml4t_live_core.plugins import LOAD_ENV_VAR, Plugins, load_plugins

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "parity_strategies.py"


@pytest.fixture(scope="session")
def examples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("parity_strategies", EXAMPLES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def minute_bars() -> pl.DataFrame:
    return synthetic_bars(SyntheticConfig(assets=3, bars=90, seed=5, volatility=0.003))


@pytest.fixture(scope="session")
def daily_bars() -> pl.DataFrame:
    return synthetic_bars(
        SyntheticConfig(assets=3, bars=90, seed=9, interval_seconds=86_400, volatility=0.02)
    )


@pytest.fixture
def sim_only(monkeypatch: pytest.MonkeyPatch) -> Plugins:
    """Only the sim plugin: parity compares fill engines, not other helpers' plugins."""
    monkeypatch.setenv(LOAD_ENV_VAR, "sim")
    return load_plugins()
