"""Disabling an installed risk check is explicit, loud (WARNING), shown by `ml4t-live plugins`."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml4t_live_core.compose import load_config
from ml4t_live_core.errors import PluginError
from ml4t_live_core.plugins import ENTRY_POINT_GROUP, LOAD_ENV_VAR, Kind

SCRIPT = Path(sys.executable).parent / "ml4t-live"
#: Every installed risk check plus sim (other plugins, possibly half-built, stay out of this test).
CHECKS_AND_SIM = ",".join(
    ["sim"]
    + [
        ep.name
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name.startswith("ml4t-live-risk-")
    ]
)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(LOAD_ENV_VAR, CHECKS_AND_SIM)
    path = tmp_path / "live.toml"
    path.write_text('[plugins]\ndisable = ["duplicate"]\n')
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {LOAD_ENV_VAR: CHECKS_AND_SIM, "COLUMNS": "400"}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_disabling_a_check_removes_it_and_warns(
    config_file: Path, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING, logger="ml4t_live.plugins"):
        cfg, plugins = load_config(config_file)
    assert "duplicate" not in plugins.registry.names(Kind.RISK_CHECK)
    assert "duplicate" not in cfg.risk
    assert plugins.pm.get_plugin("duplicate") is None
    assert "kill-switch" in plugins.registry.names(Kind.RISK_CHECK)  # the others stay
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "RISK CHECK DISABLED" in r.getMessage() and "duplicate" in r.getMessage() for r in warnings
    ), [r.getMessage() for r in warnings]


def test_plugins_command_shows_the_check_as_disabled(config_file: Path):
    result = _cli("plugins", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    rows = {
        line.split("│")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.count("│") > 2 and line.split("│")[1].strip()
    }
    assert "DISABLED" in rows["duplicate"]
    assert "DISABLED" not in rows["kill-switch"] and "risk_check:kill-switch" in rows["kill-switch"]
    assert "RISK CHECK DISABLED" in result.stderr and "duplicate" in result.stderr


def test_plugins_json_marks_only_that_check_disabled(config_file: Path):
    result = _cli("plugins", "--config", str(config_file), "--json")
    assert result.returncode == 0, result.stderr
    infos = {info["name"]: info for info in json.loads(result.stdout)}
    assert infos["duplicate"]["disabled"] is True
    assert not any(info["disabled"] for name, info in infos.items() if name != "duplicate")


def test_a_typo_in_disable_is_an_error_not_a_silent_no_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(LOAD_ENV_VAR, CHECKS_AND_SIM)
    path = tmp_path / "live.toml"
    path.write_text('[plugins]\ndisable = ["duplicates"]\n')
    with pytest.raises(PluginError, match="duplicates"):
        load_config(path)
