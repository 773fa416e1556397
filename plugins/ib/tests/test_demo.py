"""`ml4t-live demo --broker ib-sim`: the whole path on the real ib_async, no account."""

from __future__ import annotations

import pytest

# the venue aggregates IB's per-asset bars and the test reads the journal from the JSON store:
# both are absent when the plugin is tested alone
pytest.importorskip("ml4t_live_aggregator")
pytest.importorskip("ml4t_live_state_json")
from ml4t_live_testing.venues.cli_run import run_demo  # noqa: E402


def test_demo_on_ib_sim_fills_orders_at_the_gateway_and_ends_by_itself():
    run = run_demo("ib-sim", "--bars", "40", "--assets", "4")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "on ib-sim (broker plugin 'ib', feed plugin 'ib'" in run.stdout
    assert "stopped: demo: all 40 bars processed" in run.stdout
    assert "bars 40 (skipped 0)" in run.stdout and "fills 0 " not in run.stdout
    at_gateway = run.venue_positions("ib-sim")
    assert at_gateway, "the strategy holds positions after its rebalances"
    assert run.journal_positions() == at_gateway
    assert "positions and cash match: the runtime and ib-sim agree" in run.stdout
