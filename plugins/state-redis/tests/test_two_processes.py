"""A halt written by `ml4t-live halt` in another process is seen by the next read here.

(The running-engine version of this is in test_runtime.py.)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ml4t_live_state_redis import RedisStateConfig, RedisStateStore
from ml4t_live_testing.redis_server import RedisServer

from ml4t_live_core.risk import TradingState

CLI = str(Path(sys.executable).parent / "ml4t-live")


def _config_file(tmp_path: Path, server: RedisServer, account: str = "shared") -> Path:
    path = tmp_path / "live.toml"
    path.write_text(
        f'[state]\nuse = "redis"\n[state.redis]\nurl = "{server.url}"\naccount = "{account}"\n'
    )
    return path


async def test_cli_halt_in_another_process_is_seen_on_the_next_read(
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
        record = await store.read_trading_state()
        assert record is not None and record.state is TradingState.HALTED
        assert "desk says stop" in record.reason
    finally:
        await store.close()
