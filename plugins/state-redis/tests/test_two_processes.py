"""A halt written by `ml4t-live halt` in another process reaches a running store here.

(The running-engine version of this is in test_runtime.py.)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ml4t_live_state_redis import RedisStateConfig, RedisStateStore
from ml4t_live_testing.redis_server import RedisServer
from ml4t_live_testing.state_contract import trading_state_within

from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.risk import TradingState

CLI = str(Path(sys.executable).parent / "ml4t-live")


def _config_file(tmp_path: Path, server: RedisServer, account: str = "shared") -> Path:
    path = tmp_path / "live.toml"
    path.write_text(
        f'[state]\nuse = "redis"\n[state.redis]\nurl = "{server.url}"\naccount = "{account}"\n'
    )
    return path


async def _read_afresh(server: RedisServer) -> TradingStateRecord | None:
    """The trading state as a store opened now reads it (its first read GETs the key)."""
    config = RedisStateConfig.model_validate({"url": server.url, "account": "shared"})
    store = RedisStateStore(config)
    await store.open()
    try:
        return await store.read_trading_state()
    finally:
        await store.close()


async def test_cli_halt_in_another_process_reaches_a_running_store(
    fresh_redis: RedisServer, tmp_path: Path, with_sim_broker: None
) -> None:
    store = RedisStateStore(
        RedisStateConfig.model_validate({"url": fresh_redis.url, "account": "shared"})
    )
    await store.open()
    try:
        assert await store.read_trading_state() is None  # subscribed from here on
        child = await asyncio.create_subprocess_exec(
            CLI,
            "halt",
            "--reason",
            "desk says stop",
            "--config",
            str(_config_file(tmp_path, fresh_redis)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == 0, err.decode()
        written = await _read_afresh(fresh_redis)
        assert written is not None and written.state is TradingState.HALTED
        assert "desk says stop" in written.reason
        # The running store follows by pub/sub: the halt arrives in well under a bar.
        assert await trading_state_within(store, written, 2.0) == written
    finally:
        await store.close()
