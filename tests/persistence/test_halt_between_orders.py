"""A halt written by another process is seen before this process's next order, not just at
the next bar (SafeBroker follows the persisted trading state before every order)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ml4t.backtest import OrderStatus, Strategy

from ml4t_live_core.plugins import LOAD_ENV_VAR
from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.risk import TradingState

from .conftest import durable_store

CLI = str(Path(sys.executable).with_name("ml4t-live"))


class HaltBetweenTwoOrders(Strategy):
    """On the first bar: order, let `halt()` run (another process), order again."""

    def __init__(self, halt) -> None:  # type: ignore[no-untyped-def]
        self.halt, self.orders = halt, []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.orders:
            return
        self.orders.append(broker.submit_order("A000", 1))
        self.halt()
        self.orders.append(broker.submit_order("A001", 1))


def _assert_second_order_stopped(strategy: HaltBetweenTwoOrders, runtime) -> None:  # type: ignore[no-untyped-def]
    first, second = strategy.orders
    assert first.status is not OrderStatus.REJECTED
    assert second.status is OrderStatus.REJECTED
    assert "kill-switch" in (second.rejection_reason or "")
    assert runtime.safe.trading_state is TradingState.HALTED


async def test_halt_from_another_store_instance_stops_the_next_order(
    make_runtime, backend: str, state_dir: Path
) -> None:
    def halt() -> None:  # a second store on the same location, as another process would hold
        async def write() -> None:
            other = durable_store(backend, state_dir)
            await other.open()
            await other.write_trading_state(
                TradingStateRecord(TradingState.HALTED, "other process", datetime.now(UTC))
            )
            await other.close()

        asyncio.run(write())

    strategy = HaltBetweenTwoOrders(halt)
    runtime = make_runtime(
        strategy, store=durable_store(backend, state_dir), only="sim,kill-switch"
    )
    await runtime.engine.run(install_signal_handlers=False)
    _assert_second_order_stopped(strategy, runtime)


async def test_sqlite_halt_by_a_second_process_stops_the_next_order(
    make_runtime, tmp_path: Path
) -> None:
    db = tmp_path / "shared.db"
    config = tmp_path / "live.toml"
    config.write_text(f'[state]\nuse = "sqlite"\n[state.sqlite]\npath = "{db}"\n')

    def halt() -> None:  # a real second process: the CLI, sharing the database file
        env = {
            k: v for k, v in os.environ.items() if k != LOAD_ENV_VAR
        }  # it loads what is installed
        done = subprocess.run(
            [CLI, "halt", "--reason", "risk desk", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stderr

    strategy = HaltBetweenTwoOrders(halt)
    store = durable_store("sqlite", tmp_path)
    store.path = db  # the same file the CLI opens
    store.location = str(db)
    runtime = make_runtime(strategy, store=store, only="sim,kill-switch")
    await runtime.engine.run(install_signal_handlers=False)
    _assert_second_order_stopped(strategy, runtime)
    assert "risk desk" in runtime.safe.risk_state.trading_state_reason
