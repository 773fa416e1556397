"""`reset` on Redis: old keys renamed aside (never deleted), HALTED after, ids never reused."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
import redis
from ml4t_live_state_redis import RedisStateStore
from ml4t_live_state_redis.errors import RedisStateUnavailableError
from ml4t_live_testing.redis_server import RedisServer
from ml4t_live_testing.state_contract import order_record, trading_state_within

from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import RiskState

T = TypeVar("T")


@pytest.fixture
def client(fresh_redis: RedisServer):
    with redis.Redis.from_url(fresh_redis.url) as sync_client:
        yield sync_client


async def test_reset_moves_wrong_typed_keys_aside_and_halts_everyone(
    store: RedisStateStore, client: redis.Redis, redis_config
) -> None:
    watcher = RedisStateStore(redis_config())
    await watcher.open()
    try:
        assert await watcher.read_trading_state() is None
        client.hset(store.keys.trading_state, "who", "knows")
        client.rpush(store.keys.journal, b'{"client_order_id": "x-00000090"}')
        client.set(store.keys.state, b"garbage")
        kept = await store.reset()
        assert sorted(k.rsplit(":", 1)[-1] for k in kept) == ["journal", "state", "trading_state"]
        aside = {k.rsplit(":", 1)[-1]: k for k in kept}
        assert client.hgetall(aside["trading_state"]) == {b"who": b"knows"}
        assert client.lrange(aside["journal"], 0, -1) == [b'{"client_order_id": "x-00000090"}']
        assert client.get(aside["state"]) == b"garbage"
        assert all(k.startswith(f"{store.keys.prefix}:aside:") for k in kept)

        state = await store.load_state()
        assert state is not None and state.trading_state is TradingState.HALTED
        assert state.next_client_order_seq == 91  # salvaged from the journal moved aside
        halted = await store.read_trading_state()  # the resetting store's own write
        assert halted is not None and halted.state is TradingState.HALTED
        assert await trading_state_within(watcher, halted, 2.0) == halted  # by pub/sub
        assert await store.read_journal() == []
    finally:
        await watcher.close()


async def test_reset_sets_aside_a_journal_with_a_foreign_entry(
    store: RedisStateStore, client: redis.Redis
) -> None:
    await store.append_journal(order_record(12))
    client.xadd(store.keys.journal, {"record": '{"client_order_id":"strat.acct-00000040","ti'})
    kept = await store.reset()
    assert any(k.endswith(":journal") for k in kept)
    state = await store.load_state()
    assert state is not None and state.next_client_order_seq == 41
    assert client.xlen(next(k for k in kept if k.endswith(":journal"))) == 2


async def test_reset_of_an_empty_store_starts_halted(store: RedisStateStore) -> None:
    assert await store.reset() == []
    state = await store.load_state()
    assert state is not None and state.trading_state is TradingState.HALTED
    assert state.next_client_order_seq == 1


async def test_sound_journal_is_kept_through_a_reset(store: RedisStateStore) -> None:
    await store.save_state(RiskState(next_client_order_seq=5))
    for seq in (1, 2, 3, 4):
        await store.append_journal(order_record(seq))
    kept = await store.reset()
    assert [k.rsplit(":", 1)[-1] for k in kept] == ["state"]
    assert len(await store.read_journal()) == 4



class _RacedStore(RedisStateStore):
    """Another process moves a key away between this store's TYPE and GET in `reset`."""

    def __init__(self, *args: Any, other: redis.Redis, key: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._other, self._key = other, key
        self._read = {self.keys.state: "read the state", self.keys.max_seq: "read the sequence"}

    async def _guard(self, what: str, call: Awaitable[T]) -> T:
        if what == self._read[self._key]:
            self._other.rename(self._key, f"{self._key}-elsewhere")
        return await super()._guard(what, call)


@pytest.mark.parametrize("key", ["state", "max_seq"])
async def test_reset_stops_when_a_key_disappears_under_it(
    store: RedisStateStore, client: redis.Redis, redis_config, key: str
) -> None:
    await store.save_state(RiskState(next_client_order_seq=8))
    await store.append_journal(order_record(5))
    raced = _RacedStore(redis_config(), other=client, key=getattr(store.keys, key))
    await raced.open()
    try:
        with pytest.raises(RedisStateUnavailableError, match=f"{key} disappeared during the reset"):
            await raced.reset()  # going on could hand out ids the moved key still holds
    finally:
        await raced.close()
    assert client.get(store.keys.trading_state) is None  # nothing written: not reset
    assert client.get(f"{getattr(store.keys, key)}-elsewhere") is not None
