"""SIGKILL a writer at random moments: the state is always the old or the new version, and the
journal never yields a torn record (a torn last line is reported and set aside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml4t_live_testing.crash import run_crash_test


@pytest.mark.parametrize("backend", ["json", "sqlite"])
def test_state_and_journal_survive_sigkill(backend: str, tmp_path: Path) -> None:
    config = {"directory": str(tmp_path)} if backend == "json" else {"path": str(tmp_path / "state.db")}
    report = run_crash_test(backend, config, kills=70, max_delay=0.15, seed=7,
                            env={"ML4T_LIVE_LOAD_PLUGINS": f"state-{backend}"})
    assert report.kills == 70
    assert report.versions_written > 70  # the writers got real work done between kills
    assert report.outcomes["old"] + report.outcomes["new"] == 70
