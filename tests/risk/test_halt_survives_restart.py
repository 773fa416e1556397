"""A drawdown halt is durable: SIGKILL and restart keep refusing orders until a person resumes.

Three real `ml4t-live run` processes share one JSON state directory:
1. trades a replay whose price falls 20%; `drawdown` (max 10%) halts; the process is SIGKILLed
   the moment the halt is on disk (it never gets to shut down cleanly);
2. a fresh process on the same state: every order is rejected by `kill-switch` with the
   drawdown reason, although this process itself never saw the loss;
3. after `ml4t-live resume --confirm`, a fresh process trades again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from ml4t_live_core.plugins import LOAD_ENV_VAR

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ml4t_live_state_json") is None,
    reason="json state store not installed",
)

PLUGINS = "sim,state-json,kill-switch,drawdown,price-collar,stale-data"
CLI = [sys.executable, "-c", "from ml4t_live_core.cli import main; main()"]
TOKEN = "HALT-IS-DURABLE"

STRATEGY = textwrap.dedent('''
    """Buys 900 AAA on the first bar of the first run, else 1 share per bar; reports each order."""
    import asyncio
    import json
    import os
    import sys
    import threading
    import time

    from ml4t.backtest import OrderStatus, Strategy

    from ml4t_live_core.risk import TradingState
    from ml4t_live_state_json.store import JsonStateConfig, JsonStateStore


    def halt_on_disk(directory):
        async def read():
            store = JsonStateStore(JsonStateConfig(directory=directory))
            try:
                state, record = await store.load_state(), await store.read_trading_state()
            finally:
                await store.close()
            return (state is not None and state.trading_state is TradingState.HALTED
                    and record is not None and record.state is TradingState.HALTED)
        return asyncio.run(read())


    class HaltProbe(Strategy):
        def __init__(self):
            self.bars = 0
            self.outcomes = []

        def on_data(self, timestamp, data, context, broker):
            self.bars += 1
            phase = os.environ["PROBE_PHASE"]
            order = broker.submit_order("AAA", 900 if self.bars == 1 and phase == "crash" else 1)
            rejected = order.status is OrderStatus.REJECTED
            self.outcomes.append(order.rejection_reason if rejected else "accepted")
            if phase == "crash" and rejected:
                # Wait (in the strategy thread; the event loop keeps writing) until the halt is
                # durable, say so, then hang: the test kills this process with SIGKILL.
                deadline = time.monotonic() + 30
                while not halt_on_disk(os.environ["PROBE_STATE"]):
                    if time.monotonic() > deadline:
                        print("halt never reached the disk", flush=True)
                        sys.exit(3)
                    time.sleep(0.01)
                print("HALT-IS-DURABLE", flush=True)
                threading.Event().wait()

        def on_end(self, broker):
            with open(os.environ["PROBE_REPORT"], "w") as fh:
                json.dump(self.outcomes, fh)
''')


@pytest.fixture
def setup(tmp_path: Path):
    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    closes = [100.0] * 5 + [80.0] * 25  # a 20% fall after five bars
    pl.DataFrame(
        {
            "timestamp": [start + timedelta(minutes=i) for i in range(len(closes))],
            "asset": ["AAA"] * len(closes),
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": [1_000.0] * len(closes),
        }
    ).write_parquet(tmp_path / "bars.parquet")
    (tmp_path / "probe.py").write_text(STRATEGY)
    state = tmp_path / "state"
    config = tmp_path / "live.toml"
    config.write_text(
        textwrap.dedent(f"""
        [runtime]
        strategy_id = "halt-probe"
        timezone = "UTC"
        [broker]
        use = "sim"
        [feed]
        use = "replay"
        [feed.replay]
        path = "{tmp_path / "bars.parquet"}"
        [state]
        use = "json"
        [state.json]
        directory = "{state}"
        [risk.drawdown]
        max_pct = 10
    """)
    )
    env = {**os.environ, LOAD_ENV_VAR: PLUGINS, "PROBE_STATE": str(state), "PYTHONUNBUFFERED": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("ML4T_LIVE__")}
    return tmp_path, config, env


def run_to_end(tmp_path: Path, config: Path, env: dict[str, str], name: str) -> list[str]:
    report = tmp_path / f"{name}.json"
    result = subprocess.run(
        [*CLI, "run", f"{tmp_path / 'probe.py'}:HaltProbe", "--config", str(config)],
        env={**env, "PROBE_PHASE": name, "PROBE_REPORT": str(report)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, f"{name} run failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(report.read_text())


def test_halt_survives_sigkill_and_restart_until_resumed(setup):
    tmp_path, config, env = setup

    crash = subprocess.Popen(
        [*CLI, "run", f"{tmp_path / 'probe.py'}:HaltProbe", "--config", str(config)],
        env={**env, "PROBE_PHASE": "crash", "PROBE_REPORT": str(tmp_path / "crash.json")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert crash.stdout is not None
        seen = []
        for line in crash.stdout:  # ends at EOF if the child dies early
            seen.append(line)
            if TOKEN in line:
                break
        else:
            crash.wait(timeout=30)
            pytest.fail(
                f"first run ended without a durable halt:\n{''.join(seen)}\n{crash.stderr.read()}"
            )
        os.kill(crash.pid, signal.SIGKILL)
        assert crash.wait(timeout=30) == -signal.SIGKILL
    finally:
        if crash.poll() is None:
            crash.kill()
            crash.wait(timeout=30)
        crash.stdout.close()
        crash.stderr.close()
    assert not (tmp_path / "crash.json").exists()  # it really died before on_end

    # A fresh process on the same state: its own equity never fell, yet nothing goes out.
    outcomes = run_to_end(tmp_path, config, env, "restart")
    assert len(outcomes) == 30
    assert all(
        o.startswith("kill-switch: trading is HALTED (drawdown: equity ") for o in outcomes
    ), outcomes
    assert "below the high-water mark 100,000.00 (max 10.00%)" in outcomes[0]

    refused = subprocess.run(
        [*CLI, "resume", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert refused.returncode != 0 and "--confirm" in refused.stderr
    assert run_to_end(tmp_path, config, env, "still-halted")[0].startswith(
        "kill-switch: trading is HALTED"
    )

    resumed = subprocess.run(
        [*CLI, "resume", "--confirm", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert run_to_end(tmp_path, config, env, "resumed") == ["accepted"] * 30
