"""Fixtures for persistence tests: durable stores on a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ml4t_live_state_json import JsonStateConfig, JsonStateStore
from ml4t_live_state_sqlite import SqliteStateConfig, SqliteStateStore


def durable_store(backend: str, directory: Path) -> Any:
    if backend == "json":
        return JsonStateStore(JsonStateConfig(directory=directory))
    return SqliteStateStore(SqliteStateConfig(path=directory / "state.db"))


@pytest.fixture(params=["json", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"
