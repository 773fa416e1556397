"""Corrupt state in Redis fails closed: a clear StateCorruptError, nothing reset or overwritten."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from ml4t_live_state_redis import RedisStateConfig, RedisStateStore
from ml4t_live_testing.redis_server import RedisServer

from ml4t_live_core.errors import StateCorruptError
from ml4t_live_core.state import RiskState, encode_state

RESET_COMMAND = "ml4t-live state reset --confirm"
CLI = str(Path(sys.executable).parent / "ml4t-live")


def _dump(client: redis.Redis, keys: list[str]) -> dict[str, Any]:
    """Every key's type and raw contents, to show that nothing was changed."""
    out = {}
    for key in keys:
        kind = client.type(key).decode()
        out[key] = (kind, client.dump(key))
    return out


CORRUPTIONS: dict[str, Callable[[redis.Redis, RedisStateStore], None]] = {
    "state-wrong-type": lambda c, s: (c.delete(s.keys.state), c.rpush(s.keys.state, "a", "b")),
    "state-garbage": lambda c, s: c.set(s.keys.state, b"\x00\xff not json"),
    "state-wrong-schema": lambda c, s: c.set(
        s.keys.state, json.dumps({**RiskState().to_dict(), "schema_version": 99})
    ),
    "trading-state-wrong-type": lambda c, s: c.hset(s.keys.trading_state, "state", "halted"),
    "trading-state-garbage": lambda c, s: c.set(s.keys.trading_state, b"{halted"),
    "trading-state-wrong-schema": lambda c, s: c.set(
        s.keys.trading_state,
        json.dumps({"schema_version": 5, "state": "halted", "reason": "", "since": None}),
    ),
    "journal-wrong-type": lambda c, s: c.set(s.keys.journal, b"not a stream"),
    "sequence-garbage": lambda c, s: c.set(s.keys.max_seq, b"12abc"),
    "sequence-wrong-type": lambda c, s: c.sadd(s.keys.max_seq, "12"),
}


@pytest.fixture
def client(fresh_redis: RedisServer):
    with redis.Redis.from_url(fresh_redis.url) as sync_client:
        yield sync_client


def _store(fresh_redis: RedisServer) -> RedisStateStore:
    return RedisStateStore(RedisStateConfig.model_validate({"url": fresh_redis.url}))


def _keys(store: RedisStateStore) -> list[str]:
    k = store.keys
    return [k.state, k.journal, k.max_seq, k.trading_state]


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
async def test_corrupt_key_refuses_with_a_clear_message_and_is_kept(
    fresh_redis: RedisServer, client: redis.Redis, corruption: str
) -> None:
    store = _store(fresh_redis)
    client.set(store.keys.state, encode_state(RiskState(orders_total=3)))
    CORRUPTIONS[corruption](client, store)
    before = _dump(client, _keys(store))
    for _ in range(2):  # failing once must not have repaired anything
        with pytest.raises(StateCorruptError) as caught:
            await store.open()
            try:
                await store.load_state()
            finally:
                await store.close()
        message = str(caught.value)
        assert caught.value.backend == "redis" and "redis state at redis://127.0.0.1:" in message
        assert store.keys.prefix in message and RESET_COMMAND in message
    assert _dump(client, _keys(store)) == before


async def test_writes_never_overwrite_a_key_of_the_wrong_type(
    fresh_redis: RedisServer, client: redis.Redis
) -> None:
    store = _store(fresh_redis)
    client.rpush(store.keys.state, "precious")
    client.hset(store.keys.trading_state, "x", "y")
    client.set(store.keys.journal, "not a stream")
    await store.open()
    try:
        from datetime import UTC, datetime

        from ml4t_live_core.protocols import TradingStateRecord
        from ml4t_live_core.risk import TradingState
        from ml4t_live_core.state import JournalEvent, JournalRecord

        now = datetime(2024, 1, 2, tzinfo=UTC)
        with pytest.raises(StateCorruptError, match="holds a list"):
            await store.save_state(RiskState())
        with pytest.raises(StateCorruptError, match="holds a hash"):
            await store.write_trading_state(TradingStateRecord(TradingState.HALTED, "x", now))
        with pytest.raises(
            StateCorruptError, match=f"journal \\({store.keys.journal}, .*\\): WRONGTYPE"
        ):
            await store.append_journal(
                JournalRecord(now, JournalEvent.SUBMITTED, client_order_id="p-00000001")
            )
    finally:
        await store.close()
    assert client.lrange(store.keys.state, 0, -1) == [b"precious"]
    assert client.hgetall(store.keys.trading_state) == {b"x": b"y"}
    assert client.get(store.keys.journal) == b"not a stream"
    assert client.exists(store.keys.max_seq) == 0  # the script checked before it wrote anything


@pytest.mark.parametrize("bad_sequence", ["hash", "garbage"])
async def test_append_with_a_bad_sequence_key_writes_nothing(
    fresh_redis: RedisServer, client: redis.Redis, bad_sequence: str
) -> None:
    from datetime import UTC, datetime

    from ml4t_live_core.state import JournalEvent, JournalRecord

    store = _store(fresh_redis)
    if bad_sequence == "hash":
        client.hset(store.keys.max_seq, "n", "3")
    else:
        client.set(store.keys.max_seq, "3x")
    await store.open()
    try:
        with pytest.raises(StateCorruptError, match=store.keys.max_seq.replace("*", r"\*")):
            await store.append_journal(
                JournalRecord(
                    datetime(2024, 1, 2, tzinfo=UTC),
                    JournalEvent.SUBMITTED,
                    client_order_id="p-00000009",
                )
            )
    finally:
        await store.close()
    assert client.exists(store.keys.journal) == 0


async def test_a_foreign_stream_entry_is_corruption_not_skipped(
    fresh_redis: RedisServer, client: redis.Redis
) -> None:
    store = _store(fresh_redis)
    client.xadd(store.keys.journal, {"record": "{half"})
    await store.open()
    try:
        with pytest.raises(StateCorruptError, match="journal entry"):
            await store.read_journal()
    finally:
        await store.close()


def test_cli_halt_refuses_corrupt_state_and_says_how_to_reset(
    fresh_redis: RedisServer, client: redis.Redis, tmp_path: Path, with_sim_broker: None
) -> None:
    store = _store(fresh_redis)
    client.set(store.keys.state, b"garbage")
    config = tmp_path / "live.toml"
    config.write_text(f'[state]\nuse = "redis"\n[state.redis]\nurl = "{fresh_redis.url}"\n')
    done = subprocess.run(
        [CLI, "halt", "--reason", "test", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert (
        "redis state at redis://127.0.0.1" in done.stderr and "state reset --confirm" in done.stderr
    )
    assert client.get(store.keys.state) == b"garbage"
