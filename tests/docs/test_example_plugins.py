"""The two example plugin distributions, installed from examples/plugins/, work end to end:
`ml4t-live plugins` lists them, their own test suites pass, and a short `ml4t-live run`
trades through the toybroker stub (127.0.0.1) with the example risk check rejecting an order."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml4t_live_core.plugins import LOAD_ENV_VAR, Kind, load_plugins

from .child_pytest import run_pytest

CLI = [sys.executable, "-m", "ml4t_live_core"]
KEY = "docs-test-key-789"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML4T_LIVE")}
    return env | extra


def test_load_plugins_sees_both_examples(example_plugins, monkeypatch):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,toybroker,max-orders-per-day")
    registry = load_plugins().registry
    assert "toybroker" in registry.names(Kind.BROKER)
    assert "max-orders-per-day" in registry.names(Kind.RISK_CHECK)


def test_ml4t_live_plugins_lists_them_with_their_distributions(example_plugins):
    out = subprocess.run(
        [*CLI, "plugins", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        check=True,
    ).stdout
    infos = {info["name"]: info for info in json.loads(out)}
    assert infos["toybroker"]["distribution"] == "ml4t-live-example-toybroker"
    assert infos["toybroker"]["registrations"] == ["broker:toybroker"]
    assert infos["max-orders-per-day"]["registrations"] == ["risk_check:max-orders-per-day"]


@pytest.mark.parametrize("example", ["toybroker", "order-limit"])
def test_the_examples_own_tests_pass(example_plugins, example):
    result = run_pytest(str(example_plugins[example] / "tests"), cwd=example_plugins[example])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


@pytest.fixture
def toy_stub(example_plugins) -> Iterator[tuple[object, str]]:
    """The ToyBroker stub on 127.0.0.1, served from its own thread while a CLI run uses it."""
    from ml4t_example_toybroker.stub import ToyExchange, serve

    exchange = ToyExchange(api_key=KEY, quotes={"A0": 100.0})
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        box["runner"], box["url"] = loop.run_until_complete(serve(exchange))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "stub did not start"
    yield exchange, str(box["url"])
    asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)  # type: ignore[attr-defined]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


STRATEGY = '''
from ml4t.backtest import Strategy

class BuyTwice(Strategy):
    """Buys 5 A0 on each of the first two bars (the second is one order too many)."""
    def __init__(self):
        self.bars = 0
    def on_data(self, timestamp, data, context, broker):
        self.bars += 1
        if self.bars <= 2:
            broker.submit_order("A0", 5)
'''

CONFIG = """
[runtime]
strategy_id = "docs-toy"

[broker]
use = "toybroker"

[broker.toybroker]
base_url = "{url}"
poll_interval = 0.05

[feed]
use = "synthetic"

[feed.synthetic]
assets = 1
bars = 5

[risk.max-orders-per-day]
max_orders = 1
"""


def test_a_live_session_trades_through_the_stub_and_the_check_rejects(toy_stub, tmp_path: Path):
    exchange, url = toy_stub
    (tmp_path / "strategy.py").write_text(STRATEGY)
    (tmp_path / "live.toml").write_text(CONFIG.format(url=url))
    env = _env(
        **{
            LOAD_ENV_VAR: "sim,toybroker,max-orders-per-day",
            "ML4T_LIVE__BROKER__TOYBROKER__API_KEY": KEY,
        }
    )
    result = subprocess.run(
        [
            *CLI,
            "run",
            "strategy.py:BuyTwice",
            "--config",
            "live.toml",
            "--report-dir",
            str(tmp_path / "reports"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    sent = list(exchange.orders.values())  # type: ignore[attr-defined]
    assert len(sent) == 1, f"exactly one order may reach the API, got {sent}"
    assert sent[0].symbol == "A0" and sent[0].qty == 5 and sent[0].client_order_id
    assert exchange.positions == {"A0": (5.0, 100.0)}  # type: ignore[attr-defined]
    assert KEY not in output, "the API key leaked into the CLI output"
    assert "rejected 1 {'max-orders-per-day': 1}" in output, output[-2000:]
