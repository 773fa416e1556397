"""The `ml4t-live` command as a user runs it: the demo, `run`, and a graceful SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "ml4t-live"


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_demo_runs_offline_and_shows_filled_orders():
    result = cli("demo", "--bars", "120")
    assert result.returncode == 0, result.stderr
    assert "filled" in result.stdout and "Final portfolio" in result.stdout
    assert "fills 0 " not in result.stdout


def test_version():
    result = cli("--version")
    assert result.returncode == 0 and "ml4t-live" in result.stdout


STRATEGY = """
import time
from pathlib import Path
from ml4t.backtest import Strategy

MARKERS = Path({markers!r})

class Slow(Strategy):
    def on_start(self, broker):
        (MARKERS / "started").write_text("yes")

    def on_data(self, timestamp, data, context, broker):
        time.sleep(0.01)

    def on_end(self, broker):
        (MARKERS / "ended").write_text("yes")
"""


def test_sigterm_ends_cleanly_with_on_end_and_exit_code_zero(tmp_path):
    (tmp_path / "strategy.py").write_text(STRATEGY.format(markers=str(tmp_path)))
    config = tmp_path / "live.toml"
    config.write_text(
        '[feed]\nuse = "synthetic"\n[feed.synthetic]\nassets = 2\nbars = 3000\n'
        "[observers.prometheus]\nport = 0\n"  # never the fixed default port: it may be taken
    )
    proc = subprocess.Popen(
        [str(SCRIPT), "run", f"{tmp_path / 'strategy.py'}:Slow", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert (tmp_path / "ended").read_text() == "yes"
    assert "signal SIGTERM" in out + err


def test_run_with_a_bad_config_exits_nonzero_naming_the_key(tmp_path):
    (tmp_path / "strategy.py").write_text(STRATEGY.format(markers=str(tmp_path)))
    config = tmp_path / "live.toml"
    config.write_text("[runtime]\nshadw = true\n")
    result = cli("run", f"{tmp_path / 'strategy.py'}:Slow", "--config", str(config))
    assert result.returncode != 0
    assert "[runtime]" in result.stderr and "'shadw'" in result.stderr


@pytest.mark.parametrize("target", ["nofile.py:Slow", "strategy.py", "strategy.py:Missing"])
def test_run_with_a_bad_target_is_a_usage_error(tmp_path, target):
    (tmp_path / "strategy.py").write_text(STRATEGY.format(markers=str(tmp_path)))
    (tmp_path / "live.toml").write_text("")
    result = cli("run", target, "--config", "live.toml", cwd=tmp_path, env={**os.environ})
    assert result.returncode == 2 and "TARGET" in result.stderr


def test_demo_with_an_unknown_broker_lists_the_installed_venues():
    from ml4t_live_core.demo_venue import venue_names
    from ml4t_live_core.plugins import load_plugins

    result = cli("demo", "--broker", "nasdaq-live")
    assert result.returncode == 2
    installed = venue_names(load_plugins().registry)
    message = " ".join(result.stderr.split())
    assert f"unknown venue 'nasdaq-live'; installed: {', '.join(installed)}" in message
    assert "--broker" in result.stderr and result.stdout == ""


def test_demo_on_a_venue_whose_broker_plugin_is_missing_says_what_to_install():
    env = {**os.environ, "ML4T_LIVE_LOAD_PLUGINS": "sim,testing"}  # the alpaca plugin is not loaded
    result = cli("demo", "--broker", "alpaca-sim", env=env)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "--broker alpaca-sim needs the broker 'alpaca' and feed 'alpaca' plugin(s)" in message
    assert 'pip install "ml4t-live[alpaca]"' in message
