"""A halt written by one process is seen by another sharing the Redis state before its next order."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from ml4t.backtest import OrderStatus, Strategy

from ml4t_live_core.compose import build
from ml4t_live_core.plugins import LOAD_ENV_VAR
from ml4t_live_core.risk import TradingState
from ml4t_live_sim import ReplayFeed, SyntheticConfig
from ml4t_live_sim.feeds import synthetic_bars
from ml4t_live_state_redis import RedisStateConfig, RedisStateStore
from ml4t_live_testing.redis_server import RedisServer

CLI = str(Path(sys.executable).parent / "ml4t-live")


def _config_file(tmp_path: Path, server: RedisServer, account: str = "shared") -> Path:
    path = tmp_path / "live.toml"
    path.write_text(f'[state]\nuse = "redis"\n[state.redis]\nurl = "{server.url}"\naccount = "{account}"\n')
    return path


async def test_cli_halt_in_another_process_is_seen_on_the_next_read(
    fresh_redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,state-redis")
    store = RedisStateStore(RedisStateConfig.model_validate({"url": fresh_redis.url, "account": "shared"}))
    await store.open()
    try:
        assert await store.read_trading_state() is None  # subscribed from here on
        child = await asyncio.create_subprocess_exec(
            CLI, "halt", "--reason", "desk says stop", "--config", str(_config_file(tmp_path, fresh_redis)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == 0, err.decode()
        record = await store.read_trading_state()
        assert record is not None and record.state is TradingState.HALTED
        assert "desk says stop" in record.reason
    finally:
        await store.close()


class HaltFromAnotherProcessAtBar(Strategy):
    """Buys every bar; at bar `halt_at`, after its order, a separate process halts the account."""

    def __init__(self, command: list[str], halt_at: int):
        self.command, self.halt_at = command, halt_at
        self.bar = 0
        self.statuses: list[tuple[int, OrderStatus]] = []
        self.halt_result: subprocess.CompletedProcess[str] | None = None

    def on_data(self, timestamp, data, context, broker):
        self.bar += 1
        order = broker.submit_order(next(iter(sorted(data))), 1)
        self.statuses.append((self.bar, order.status))
        if self.bar == self.halt_at:
            self.halt_result = subprocess.run(self.command, capture_output=True, text=True, timeout=60)


async def test_running_engine_halts_before_its_next_order(
    fresh_redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,kill-switch,state-redis")
    config = _config_file(tmp_path, fresh_redis)
    strategy = HaltFromAnotherProcessAtBar([CLI, "halt", "--reason", "other process", "--config", str(config)], 5)
    runtime = build(
        strategy, config, feed=ReplayFeed(data=synthetic_bars(SyntheticConfig(assets=1, bars=12, seed=2))),
        overrides={"runtime": {"strategy_id": "twoproc"}},
    )
    assert isinstance(runtime.store, RedisStateStore)
    await runtime.engine.run(install_signal_handlers=False)

    assert strategy.halt_result is not None and strategy.halt_result.returncode == 0, strategy.halt_result
    before = [status for bar, status in strategy.statuses if bar <= 5]
    after = [status for bar, status in strategy.statuses if bar > 5]
    assert OrderStatus.REJECTED not in before
    assert after and all(status is OrderStatus.REJECTED for status in after)
    assert runtime.safe.trading_state is TradingState.HALTED

    reader = RedisStateStore(RedisStateConfig.model_validate({"url": fresh_redis.url, "account": "shared"}))
    await reader.open()
    try:
        rejected = [r for r in await reader.read_journal() if r.event.value == "rejected"]
        assert len(rejected) == len(after)
        assert all(any(reason.startswith("kill-switch") for reason in r.reasons) for r in rejected)
        state = await reader.load_state()
        assert state is not None and state.trading_state is TradingState.HALTED  # survives restart
    finally:
        await reader.close()
