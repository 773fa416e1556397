"""The kill switch through the whole runtime: `ml4t-live halt / reduce / resume --confirm`, run
as a separate process against the durable JSON state, stop and restart a running engine within
one bar; in HALTED only closes that reduce a position get through."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ml4t.backtest import Order, OrderSide, Strategy

from ml4t_live_core.plugins import ENTRY_POINT_GROUP, LOAD_ENV_VAR, Kind, Plugins, load_plugins
from ml4t_live_core.risk import TradingState

SCRIPT = Path(sys.executable).parent / "ml4t-live"
PLUGINS = "sim,kill-switch,state-json"


def _json_plugins() -> Plugins:
    """Only the state-json distribution, loaded through its entry point like the runtime does."""
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name="state-json")
    return load_plugins(entry_points=False, extra=[(ep.load(), ep.name) for ep in eps])


JSON_INSTALLED = "json" in _json_plugins().registry.names(Kind.STATE_STORE)

pytestmark = pytest.mark.skipif(
    not JSON_INSTALLED, reason="the json state backend (state-json) is not installed"
)


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {LOAD_ENV_VAR: PLUGINS}
    return subprocess.run(
        [str(SCRIPT), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _outcome(order: Order | None) -> tuple[str, str]:
    if order is None:
        return ("none", "")
    return (order.status.value, order.rejection_reason or "")


class Operator(Strategy):
    """Trades while a person halts, reduces and resumes it from another process (the CLI)."""

    def __init__(self, config: Path):
        self.config = config
        self.bar = 0
        self.log: dict[str, Any] = {}

    def on_data(self, timestamp, data, context, broker) -> None:
        self.bar += 1
        x, y, z = sorted(data)[:3]
        log, b = self.log, self.bar
        if b == 1:
            broker.submit_order(x, 10)
            broker.submit_order(y, 10)
        elif b == 3:
            log["halt"] = _cli(self.config, "halt", "--reason", "operator test")
        elif b == 4:
            log["halted_buy"] = _outcome(broker.submit_order(z, 5))
            log["halted_partial_sell"] = _outcome(broker.submit_order(x, 3, OrderSide.SELL))
            log["halted_close"] = _outcome(broker.close_position(x))
            log["halted_second_close"] = _outcome(broker.close_position(x))  # would flip short
        elif b == 6:
            log["reduce"] = _cli(self.config, "reduce", "--reason", "operator test")
        elif b == 7:
            log["reducing_buy"] = _outcome(broker.submit_order(y, 5))
            log["reducing_sell"] = _outcome(broker.submit_order(y, 4, OrderSide.SELL))
        elif b == 9:
            log["resume_unconfirmed"] = _cli(self.config, "resume")
        elif b == 10:
            log["after_unconfirmed_buy"] = _outcome(broker.submit_order(z, 5))
            log["resume"] = _cli(self.config, "resume", "--confirm")
        elif b == 11:
            log["resumed_buy"] = _outcome(broker.submit_order(z, 5))
        elif b == 13:
            log["halt_again"] = _cli(self.config, "halt", "--reason", "flatten test")
        elif b == 14:
            log["positions_before_flatten"] = {
                a: p.quantity for a, p in broker.get_positions().items()
            }
            log["flatten"] = [_outcome(o) for o in broker.flatten_all_positions("operator flatten")]
            log["halted_buy_after_flatten"] = _outcome(broker.submit_order(x, 1))
        elif b == 16:
            log["positions_after_flatten"] = {
                a: p.quantity for a, p in broker.get_positions().items()
            }


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def config_file(tmp_path: Path, state_dir: Path) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(f'[state]\nuse = "json"\n[state.json]\ndirectory = "{state_dir}"\n')
    return path


def _json_store(state_dir: Path) -> Any:
    reg = _json_plugins().registry.get(Kind.STATE_STORE, "json")
    return reg.factory(reg.config.model_validate({"directory": str(state_dir)}))


async def test_cli_halt_reduce_resume_reach_a_running_engine_within_one_bar(
    make_runtime, bars, config_file: Path, state_dir: Path
):
    strategy = Operator(config_file)
    runtime = make_runtime(
        strategy, data=bars.head(3 * 18), only=PLUGINS, store=_json_store(state_dir)
    )
    await runtime.engine.run(install_signal_handlers=False)
    log = strategy.log

    for step in ("halt", "reduce", "resume", "halt_again"):
        assert log[step].returncode == 0, log[step].stderr
    assert "HALTED" in log["halt"].stdout

    # Written while bar 3 is handled, the halt is in force by bar 4 (the engine may already
    # have read it for the next bar while the strategy waited on the CLI).
    status, reason = log["halted_buy"]
    assert status == "rejected" and "kill-switch" in reason and "operator test" in reason
    assert log["halted_partial_sell"][0] == "rejected"
    assert log["halted_close"][0] == "pending"
    assert log["halted_second_close"][0] == "rejected"  # the first close already covers it

    # REDUCING: shrinking passes, growing does not.
    assert log["reducing_buy"][0] == "rejected" and "REDUCING" in log["reducing_buy"][1]
    assert log["reducing_sell"][0] == "pending"

    # `resume` without --confirm refuses and changes nothing.
    assert (
        log["resume_unconfirmed"].returncode != 0
        and "--confirm" in log["resume_unconfirmed"].stderr
    )
    assert log["after_unconfirmed_buy"][0] == "rejected"
    assert log["resumed_buy"][0] == "pending"

    # Halted again: flatten_all_positions closes everything, new orders stay blocked.
    assert log["positions_before_flatten"] and all(
        q > 0 for q in log["positions_before_flatten"].values()
    )
    assert log["flatten"] and all(status == "pending" for status, _ in log["flatten"])
    assert log["halted_buy_after_flatten"][0] == "rejected"
    assert log["positions_after_flatten"] == {}

    # The running engine took the persisted state as its own.
    assert runtime.safe.trading_state is TradingState.HALTED
    assert runtime.safe.risk_state.trading_state_reason == "manual halt: flatten test"


async def test_cli_halt_is_persisted_for_the_next_start(config_file: Path, state_dir: Path):
    result = _cli(config_file, "halt", "--reason", "weekend")
    assert result.returncode == 0, result.stderr
    store = _json_store(state_dir)
    await store.open()
    try:
        record = await store.read_trading_state()
    finally:
        await store.close()
    assert record is not None and record.state is TradingState.HALTED
    assert record.reason == "manual halt: weekend"


async def test_an_engine_started_while_halted_sends_nothing(
    make_runtime, bars, config_file, state_dir
):
    assert _cli(config_file, "halt", "--reason", "before start").returncode == 0

    class Buys(Strategy):
        def __init__(self) -> None:
            self.results: list[tuple[str, str]] = []

        def on_data(self, timestamp, data, context, broker):
            self.results.append(_outcome(broker.submit_order(next(iter(data)), 1)))

    strategy = Buys()
    runtime = make_runtime(
        strategy, data=bars.head(3 * 3), only=PLUGINS, store=_json_store(state_dir)
    )
    await runtime.engine.run(install_signal_handlers=False)
    assert strategy.results and all(
        s == "rejected" and "kill-switch" in r for s, r in strategy.results
    )
    assert not runtime.safe.fills
