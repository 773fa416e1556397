"""`ml4t-live demo --broker alpaca-sim`: the whole path on the real alpaca-py, no account."""

from __future__ import annotations

import pytest
from ml4t_live_testing.alpaca import FAKE_KEY_ID, FAKE_SECRET
from ml4t_live_testing.venues.cli_run import run_demo

# the tests read the demo's journal back from the JSON store, absent when the plugin is tested alone
pytest.importorskip("ml4t_live_state_json")


def test_demo_on_alpaca_sim_fills_orders_at_the_simulator_and_ends_by_itself():
    run = run_demo("alpaca-sim", "--bars", "40", "--assets", "4")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "on alpaca-sim (broker plugin 'alpaca', feed plugin 'alpaca'" in run.stdout
    assert "stopped: demo: all 40 bars processed" in run.stdout
    assert "bars 40 (skipped 0)" in run.stdout and "fills 0 " not in run.stdout
    at_simulator = run.venue_positions("alpaca-sim")
    assert at_simulator, "the strategy holds positions after its rebalances"
    # three views agree: the simulator's book, the journal's fills and the runtime's ledger
    assert run.journal_positions() == at_simulator
    assert "positions and cash match: the runtime and alpaca-sim agree" in run.stdout
    assert all(
        r["event"] != "filled" or r["client_order_id"].startswith("demo.") for r in run.journal()
    )
    leaks = [s for s in (FAKE_KEY_ID, FAKE_SECRET) if s in run.stdout + run.stderr]
    assert leaks == []


def test_demo_on_alpaca_sim_in_shadow_mode_sends_nothing_to_the_simulator():
    run = run_demo("alpaca-sim", "--bars", "30", "--assets", "3", "--shadow")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "fills 0 " not in run.stdout  # the virtual portfolio filled the orders
    assert run.venue_positions("alpaca-sim") == {}
    assert "cash 100,000.00; positions: none" in run.stdout
    assert "shadow mode: the orders went to the virtual portfolio, not to alpaca-sim" in run.stdout
