"""`ml4t-live status` from what a real run left in the JSON state backend."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from click.testing import CliRunner
from ml4t_live_sim import SyntheticConfig
from ml4t_live_sim.feeds import synthetic_bars
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from ml4t_live_core.cli import main
from ml4t_live_core.compose import load_config
from ml4t_live_core.plugins import LOAD_ENV_VAR, Kind
from ml4t_live_core.state import JournalEvent

STRATEGY = '''
from ml4t.backtest import Strategy

class Accumulate(Strategy):
    def __init__(self):
        self.bars = 0

    def on_data(self, timestamp, data, context, broker):
        self.bars += 1
        if self.bars % 5 == 0:
            broker.submit_order("A000", 10)
        if self.bars == 12:
            broker.submit_order("A001", -7)
'''


@pytest.fixture
def ran(tmp_path, monkeypatch):
    """A finished run with the JSON backend; returns (config path, the runtime's final view)."""
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,state-json,report")
    bars = tmp_path / "bars.csv"
    synthetic_bars(SyntheticConfig(assets=2, bars=40, seed=2)).write_csv(bars)
    config = tmp_path / "live.toml"
    config.write_text(textwrap.dedent(f"""
        [runtime]
        strategy_id = "status"
        [feed]
        use = "replay"
        [feed.replay]
        path = "{bars}"
        [state]
        use = "json"
        [state.json]
        directory = "{tmp_path / 'state'}"
    """))
    (tmp_path / "strategy.py").write_text(STRATEGY)
    result = CliRunner().invoke(
        main,
        [
            "run",
            f"{tmp_path / 'strategy.py'}:Accumulate",
            "--config",
            str(config),
            "--report-dir",
            str(tmp_path / "reports"),
        ],
    )
    assert result.exit_code == 0, result.output
    # the session report is written at the end of every run, and its path printed
    (html,) = (tmp_path / "reports").glob("session-*.html")
    assert f"report: {html}" in result.output.replace("\n", "")
    return config


def test_status_shows_state_positions_pnl_last_bar_and_recent_entries(ran):
    halted = CliRunner().invoke(main, ["halt", "--config", str(ran), "--reason", "news at 10"])
    assert halted.exit_code == 0, halted.output
    result = CliRunner().invoke(main, ["status", "--config", str(ran)], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "HALTED" in out and "manual halt: news at 10" in out
    # buys of 10 A000 at bars 5..35 filled at the next open (the one at bar 40, the last, stays
    # open), and one sell of 7 A001
    assert "A000" in out and "70" in out and "-7" in out

    cfg, plugins = load_config(ran)
    store = plugins.registry.get(Kind.STATE_STORE, cfg.state).factory(cfg.state_config)
    import asyncio

    from ml4t_live_core.status import gather

    async def read():  # type: ignore[no-untyped-def]
        await store.open()
        try:
            return await gather(store)
        finally:
            await store.close()

    status = asyncio.run(read())
    assert status.positions == {"A000": 70.0, "A001": -7.0}
    assert status.last_mark is not None and status.last_mark.timestamp.minute == 9  # bar 40 = 15:09
    assert status.pnl_today == pytest.approx(
        status.last_mark.detail["equity"] - status.state.start_of_day_equity
    )
    assert f"{status.pnl_today:+,.2f}" in out
    assert len(status.recent) == 10 and all(r.event is not JournalEvent.MARK for r in status.recent)
    assert status.recent[-1].event is JournalEvent.TRADING_STATE  # the halt is the newest entry
    assert status.recent[-2].client_order_id in out


def test_status_reads_a_running_engines_metrics(ran):
    registry = CollectorRegistry()
    Gauge("ml4t_live_equity", "equity", registry=registry).set(123_456.0)
    Gauge("ml4t_live_connected", "connected", registry=registry).set(1)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        result = CliRunner().invoke(
            main, ["status", "--config", str(ran), "--metrics", url], env={"COLUMNS": "220"}
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert "running: equity 123,456.00, connected" in result.output


def test_status_says_when_no_engine_answers(ran):
    result = CliRunner().invoke(
        main,
        ["status", "--config", str(ran), "--metrics", "http://127.0.0.1:9/metrics"],
        env={"COLUMNS": "220"},
    )
    assert result.exit_code == 0 and "not answering at http://127.0.0.1:9/metrics" in result.output


def test_status_on_corrupt_state_fails_closed_with_the_reset_command(ran, tmp_path):
    for path in (tmp_path / "state").iterdir():
        if path.suffix == ".json":
            path.write_bytes(b"\x00garbage")
    result = CliRunner().invoke(main, ["status", "--config", str(ran)])
    assert result.exit_code != 0 and "ml4t-live state reset --confirm" in result.output


LIVE_STRATEGY = '''
import time
from ml4t.backtest import Strategy

class Steady(Strategy):
    def __init__(self):
        self.bars = 0

    def on_data(self, timestamp, data, context, broker):
        self.bars += 1
        if self.bars == 2:
            broker.submit_order("A000", 4)
        time.sleep(0.05)
'''


def test_status_of_a_running_engine_reads_its_store_and_its_metrics(tmp_path):
    """While `ml4t-live run` trades, `status` reads the same JSON store and the live endpoint."""
    (tmp_path / "strategy.py").write_text(LIVE_STRATEGY)
    config = tmp_path / "live.toml"
    config.write_text(textwrap.dedent(f"""
        [runtime]
        strategy_id = "live-status"
        [feed]
        use = "synthetic"
        [feed.synthetic]
        assets = 2
        bars = 2000
        [state]
        use = "json"
        [state.json]
        directory = "{tmp_path / 'state'}"
        [observers.prometheus]
        port = 0
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML4T_LIVE")}
    env[LOAD_ENV_VAR] = "sim,state-json,prometheus"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ml4t_live_core", "run", "strategy.py:Steady", "--config",
         str(config)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    stderr: list[str] = []
    drain = threading.Thread(target=lambda: stderr.extend(iter(proc.stderr.readline, "")))
    drain.daemon = True
    drain.start()
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            assert proc.poll() is None and time.monotonic() < deadline, "".join(stderr)[-2000:]
            found = re.search(r"http://127\.0\.0\.1:\d+/metrics", "".join(stderr).replace("\n", ""))
            url = found.group(0) if found else None
            time.sleep(0.05)
        journal = tmp_path / "state" / "journal.jsonl"
        while not (journal.exists() and '"filled"' in journal.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(stderr)[-2000:]
            time.sleep(0.05)
        env_status = {"COLUMNS": "220", LOAD_ENV_VAR: "sim,state-json,prometheus"}
        result = CliRunner().invoke(main, ["status", "--config", str(config), "--metrics", url],
                                    env=env_status)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"running: equity [\d,]+\.\d\d, connected, \d+ bars", out), out
    assert "ACTIVE" in out and "A000" in out and "filled" in out
    assert proc.returncode == 0
