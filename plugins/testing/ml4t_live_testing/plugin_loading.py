"""`load_only`: restrict a test to named plugins, skipping it when one is not installed.

A plugin's tests run alone with the core in `nox -s isolation`; a test that also needs, say,
the sim broker (loading a config needs some broker) must skip there, not fail.

    def test_bad_interval_names_the_section(load_only):
        load_only("sim", "aggregator")
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

import pytest

from ml4t_live_core.plugins import LOAD_ENV_VAR

__all__ = ["load_only"]


@pytest.fixture
def load_only(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Call with entry-point names (`"sim"`, `"state-redis"`): only those plugins load for the
    rest of the test (child processes included); the test skips if one is not installed."""

    def restrict(*names: str) -> None:
        installed = {ep.name for ep in entry_points(group="ml4t_live")}
        missing = [name for name in names if name not in installed]
        if missing:
            pytest.skip(f"needs the ml4t_live plugin(s) {', '.join(missing)}, not installed here")
        monkeypatch.setenv(LOAD_ENV_VAR, ",".join(names))

    return restrict
