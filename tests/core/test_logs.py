"""Logging: JSON lines, per-component levels, and secrets that never reach any output."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from ml4t_live_core import logs
from ml4t_live_core.config import LoggingConfig

SECRET = "sk-live-7f3a9c1e5b"


@pytest.fixture
def captured(monkeypatch):
    """Configure logging into a buffer; restore the root logger afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    buffer = io.StringIO()
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)

    def configure(**settings):
        logs.configure(LoggingConfig(**settings), stream=buffer)
        return buffer

    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in ("ml4t_live.engine", "ml4t_live.safety"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_json_format_is_one_event_per_line_with_component_and_order_id(captured):
    out = captured(format="json", level="INFO")
    logging.getLogger("ml4t_live.safety").info(
        "order rejected: %s", "BUY 10 AAPL", extra={"order_id": "s.a-00000007"}
    )
    logging.getLogger("ml4t_live.engine").warning("stopping: %s", "signal SIGTERM")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["level"], e["component"]) for e in lines] == [
        ("INFO", "safety"),
        ("WARNING", "engine"),
    ]
    assert (
        lines[0]["message"] == "order rejected: BUY 10 AAPL"
        and lines[0]["order_id"] == "s.a-00000007"
    )
    assert lines[1]["timestamp"].endswith("+00:00")


def test_secrets_from_the_environment_urls_and_plugins_are_redacted(captured):
    out = captured(format="json", level="INFO")
    logs.register_secret("DU1234567")  # an account id a broker plugin registers
    log = logging.getLogger("ml4t_live.alpaca")
    log.warning("auth with %s failed", SECRET)
    log.warning("connecting to redis://trader:hunter22@127.0.0.1:6379/0 for account DU1234567")
    try:
        raise RuntimeError(f"401 for key {SECRET}")
    except RuntimeError:
        log.exception("request failed")
    logging.getLogger("urllib3").warning("retrying with %s", SECRET)  # a library's own logger
    text = out.getvalue()
    events = [json.loads(line) for line in text.splitlines()]  # a traceback stays in its event
    assert len(events) == 4 and "Traceback" in events[2]["message"]
    assert SECRET not in text and "hunter22" not in text and "DU1234567" not in text
    assert text.count(logs.REDACTED) >= 5
    assert "redis://trader:***@127.0.0.1:6379/0" in text


def test_component_levels_override_the_default(captured):
    out = captured(level="WARNING", levels={"engine": "DEBUG"}, format="json")
    logging.getLogger("ml4t_live.engine").debug("dispatching bar")
    logging.getLogger("ml4t_live.safety").info("hidden at WARNING")
    components = [json.loads(line)["component"] for line in out.getvalue().splitlines()]
    assert components == ["engine"]


def test_cli_json_logs_from_a_real_run_parse_and_carry_no_secret(tmp_path):
    env = {**os.environ, "APCA_API_KEY_ID": SECRET, "ML4T_LIVE_LOAD_PLUGINS": "sim"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ml4t_live_core",
            "--log-format",
            "json",
            "--log-level",
            "INFO",
            "demo",
            "--bars",
            "40",
            "--assets",
            "3",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert events, "an INFO run logs something"
    assert all({"timestamp", "level", "component", "message"} <= set(e) for e in events)
    assert SECRET not in result.stderr and SECRET not in result.stdout


RUN_STRATEGY = """
from ml4t.backtest import Strategy

class TooBig(Strategy):
    def __init__(self):
        self.sent = False
    def on_data(self, timestamp, data, context, broker):
        if not self.sent:
            self.sent = True
            print("REJECTED-ID", broker.submit_order("A000", 500).order_id)
            print("UNAFFORDABLE-ID", broker.submit_order("A000", 90).order_id)
"""

RUN_CONFIG = """
[runtime]
strategy_id = "logs"
[feed]
use = "synthetic"
[feed.synthetic]
assets = 1
bars = 5
[broker.sim]
initial_cash = 1000
[risk.order-size]
max_shares = 100
[logging]
format = "text"
level = "WARNING"
levels = { safety = "INFO" }
"""


def test_config_file_levels_and_the_order_id_reach_a_real_runs_json_lines(tmp_path):
    """[logging] levels from the TOML file apply per component; --log-format json wins over the
    file's format; each rejected order's log event (a check's, the broker's) carries its client
    order id."""
    (tmp_path / "strategy.py").write_text(RUN_STRATEGY)
    (tmp_path / "live.toml").write_text(RUN_CONFIG)
    env = {**os.environ, "ML4T_LIVE_LOAD_PLUGINS": "sim,order-size"}
    result = subprocess.run(
        [sys.executable, "-m", "ml4t_live_core", "--log-format", "json",
         "run", "strategy.py:TooBig", "--config", "live.toml"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    order_id = result.stdout.split("REJECTED-ID", 1)[1].split()[0]
    unaffordable_id = result.stdout.split("UNAFFORDABLE-ID", 1)[1].split()[0]
    events = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    below_warning = [e for e in events if e["level"] in ("DEBUG", "INFO")]
    assert below_warning and {e["component"] for e in below_warning} == {"safety"}
    (rejected,) = [e for e in below_warning if "order rejected:" in e["message"]]
    assert rejected["order_id"] == order_id and "order-size" in rejected["message"]
    (refused,) = [e for e in below_warning if "order rejected by the broker" in e["message"]]
    assert refused["order_id"] == unaffordable_id and refused["asset"] == "A000"
