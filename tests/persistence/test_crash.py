"""SIGKILL a writer at random moments: the state is always the old or the new version, and the
journal never yields a torn record (a torn last line is reported and set aside)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ml4t_live_testing.crash import run_crash_test


@pytest.mark.parametrize("backend", ["json", "sqlite"])
def test_state_and_journal_survive_sigkill(backend: str, tmp_path: Path) -> None:
    config = (
        {"directory": str(tmp_path)} if backend == "json" else {"path": str(tmp_path / "state.db")}
    )
    report = run_crash_test(
        backend,
        config,
        kills=70,
        max_delay=0.15,
        seed=7,
        env={"ML4T_LIVE_LOAD_PLUGINS": f"state-{backend}"},
    )
    assert report.kills == 70
    assert report.versions_written > 70  # the writers got real work done between kills
    assert report.outcomes["old"] + report.outcomes["new"] == 70


def test_the_harness_catches_a_non_atomic_state_write(tmp_path: Path) -> None:
    from ml4t_live_testing.crash import CrashCheckError

    with pytest.raises(CrashCheckError, match="store unusable after a kill|state version"):
        run_crash_test(
            "json-in-place",
            {"directory": str(tmp_path)},
            kills=40,
            max_delay=0.15,
            seed=3,
            plugin_module="tests.persistence.torn_state_backend",
            env={
                "ML4T_LIVE_LOAD_PLUGINS": "state-json",
                "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            },
        )
