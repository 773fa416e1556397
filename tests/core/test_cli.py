"""The `ml4t-live` command as a user runs it: the demo, `run`, and a graceful SIGTERM."""

from __future__ import annotations

import json
import os
import re
import shutil
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


def _assert_demo_filled(stdout: str) -> None:
    """The summary counts fills by the sim broker and the orders table shows filled rows."""
    fills = re.search(r"\bfills (\d+)\b", stdout)
    assert fills is not None and int(fills.group(1)) > 0, stdout[-2000:]
    assert re.search(r"│ (BUY|SELL) .* filled ", stdout) and "Final portfolio" in stdout


def test_demo_runs_offline_and_shows_filled_orders():
    result = cli("demo", "--bars", "120")
    assert result.returncode == 0, result.stderr
    _assert_demo_filled(result.stdout)


@pytest.mark.slow
def test_demo_runs_in_a_fresh_clone(tmp_path):
    """What the README promises: in a fresh clone, `uv run ml4t-live demo` just works."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed (the README's set-up command)"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True, timeout=120)
    outside = ("ML4T_LIVE", "VIRTUAL_ENV", "UV_PROJECT")  # the clone gets its own environment
    env = {k: v for k, v in os.environ.items() if not k.startswith(outside)}
    result = subprocess.run(
        [uv, "run", "ml4t-live", "demo", "--bars", "120"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_demo_filled(result.stdout)


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


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (None, "replay data missing.csv does not exist"),
        ("a,b\n1,2\n", "replay data bad.csv lacks columns"),
    ],
)
def test_run_on_unusable_replay_data_is_one_clear_line(tmp_path, data, says):
    (tmp_path / "strategy.py").write_text(STRATEGY.format(markers=str(tmp_path)))
    name = "missing.csv" if data is None else "bad.csv"
    if data is not None:
        (tmp_path / name).write_text(data)
    (tmp_path / "live.toml").write_text(f'[feed]\nuse = "replay"\n[feed.replay]\npath = "{name}"\n')
    result = cli("run", "strategy.py:Slow", "--config", "live.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert says in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]


def test_a_class_that_is_not_a_strategy_is_a_usage_error(tmp_path):
    (tmp_path / "plain.py").write_text("class Plain:\n    pass\n")
    (tmp_path / "live.toml").write_text("")
    result = cli("run", "plain.py:Plain", "--config", "live.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "Plain in plain.py is not an ml4t.backtest Strategy subclass" in result.stderr


def test_an_exception_in_on_start_ends_the_run_with_one_clear_line(tmp_path):
    (tmp_path / "boom.py").write_text(
        "from ml4t.backtest import Strategy\n"
        "class Boom(Strategy):\n"
        "    def on_start(self, broker):\n"
        "        raise RuntimeError('no model file')\n"
        "    def on_data(self, timestamp, data, context, broker):\n"
        "        pass\n"
    )
    (tmp_path / "live.toml").write_text('[feed]\nuse = "synthetic"\n')
    result = cli("run", "boom.py:Boom", "--config", "live.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert "Error: on_start raised: RuntimeError('no model file')" in result.stderr


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


MID_CALLBACK = """
import time
from pathlib import Path
from ml4t.backtest import Strategy

LOG = Path({log!r})

class Steady(Strategy):
    def __init__(self):
        self.bars = 0

    def on_data(self, timestamp, data, context, broker):
        self.bars += 1
        with LOG.open("a") as out:
            out.write(f"begin {{self.bars}}\\n")
        if self.bars == 1:
            broker.submit_order("A000", 3)
        time.sleep(0.25)
        with LOG.open("a") as out:
            out.write(f"end {{self.bars}}\\n")

    def on_end(self, broker):
        with LOG.open("a") as out:
            out.write(f"on_end {{broker.get_position('A000').quantity:g}}\\n")
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_mid_callback_finishes_it_then_on_end_persists_and_exits_zero(
    tmp_path, signum
):
    log = tmp_path / "calls.log"
    (tmp_path / "strategy.py").write_text(MID_CALLBACK.format(log=str(log)))
    (tmp_path / "live.toml").write_text(
        '[runtime]\nstrategy_id = "sig"\n'
        '[feed]\nuse = "synthetic"\n[feed.synthetic]\nassets = 1\nbars = 500\n'
        f'[state]\nuse = "json"\n[state.json]\ndirectory = "{tmp_path / "state"}"\n'
    )
    env = {**os.environ, "ML4T_LIVE_LOAD_PLUGINS": "sim,state-json"}
    proc = subprocess.Popen(
        [str(SCRIPT), "run", "strategy.py:Steady", "--config", "live.toml"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text().endswith("begin 3\n")):  # in the 3rd callback
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    calls = log.read_text().splitlines()
    assert calls == ["begin 1", "end 1", "begin 2", "end 2", "begin 3", "end 3", "on_end 3"], calls
    state = json.loads((tmp_path / "state" / "state.json").read_text())
    assert state["orders_total"] == 1 and state["next_client_order_seq"] == 2  # persisted at stop
    lines = (tmp_path / "state" / "journal.jsonl").read_text().splitlines()
    journal = [json.loads(line) for line in lines]
    events = [r["event"] for r in journal if r.get("asset") == "A000"]
    assert events[0] == "submitted" and "filled" in events, events
