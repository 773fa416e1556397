"""The Redis store keeps state, journal and trading state across processes' restarts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from ml4t_live_state_redis import RedisStateStore
from ml4t_live_testing.state_contract import trading_state_within

from ml4t_live_core.protocols import StateStore, TradingStateRecord
from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
#: Another store's trading-state change arrives by pub/sub; well within this in practice.
PROPAGATION = 2.0


def order(
    seq: int, asset: str = "AAPL", minutes: int = 0, prefix: str = "strat.default"
) -> JournalRecord:
    return JournalRecord(
        timestamp=T0 + timedelta(minutes=minutes),
        event=JournalEvent.SUBMITTED,
        client_order_id=f"{prefix}-{seq:08d}",
        asset=asset,
        side="buy",
        quantity=10.0,
        order_type="market",
        detail={"note": "x"},
    )


async def reopened(store: RedisStateStore) -> RedisStateStore:
    again = RedisStateStore(store.config)
    await again.open()
    return again


def test_is_a_state_store(store: RedisStateStore) -> None:
    assert isinstance(store, StateStore)
    assert store.backend == "redis"


async def test_missing_state_is_a_fresh_start(store: RedisStateStore) -> None:
    assert await store.load_state() is None
    assert await store.read_trading_state() is None
    assert await store.read_journal() == []


async def test_state_survives_reopen(store: RedisStateStore) -> None:
    state = RiskState(
        trading_day=date(2024, 1, 2),
        start_of_day_equity=100_000.0,
        high_water_mark=101_000.0,
        orders_today=3,
        orders_total=9,
        next_client_order_seq=10,
        extra={"k": [1, 2]},
    )
    await store.save_state(state)
    other = await reopened(store)
    try:
        assert await other.load_state() == state
    finally:
        await other.close()


async def test_journal_round_trips_in_order_with_filters(store: RedisStateStore) -> None:
    records = [order(1, "AAPL", 0), order(2, "MSFT", 1), order(3, "AAPL", 2)]
    for record in records:
        await store.append_journal(record)
    assert list(await store.read_journal()) == records
    assert list(await store.read_journal(asset="AAPL")) == [records[0], records[2]]
    assert list(await store.read_journal(since=T0 + timedelta(minutes=1))) == records[1:]
    assert list(await store.read_journal(since=T0 + timedelta(minutes=1), asset="AAPL")) == [
        records[2]
    ]


async def test_journal_pages_through_long_streams(store: RedisStateStore) -> None:
    for seq in range(1, 2_502):
        await store.append_journal(order(seq))
    seqs = [int(r.client_order_id.rpartition("-")[2]) for r in await store.read_journal()]
    assert seqs == list(range(1, 2_502))


async def test_next_sequence_exceeds_every_journalled_id(store: RedisStateStore) -> None:
    await store.save_state(RiskState(next_client_order_seq=3))
    await store.append_journal(order(7))
    await store.append_journal(order(5, prefix="other.acct"))  # lower ids never lower the sequence
    state = await store.load_state()
    assert state is not None and state.next_client_order_seq == 8


async def test_journal_without_saved_state_still_moves_the_sequence(store: RedisStateStore) -> None:
    await store.append_journal(order(41))
    state = await store.load_state()
    assert state is not None and state.next_client_order_seq == 42


async def test_sequence_is_derived_from_records_when_its_key_is_gone(
    store: RedisStateStore,
) -> None:
    await store.append_journal(order(12))
    await store._client.delete(store.keys.max_seq)
    state = await store.load_state()
    assert state is not None and state.next_client_order_seq == 13


async def test_trading_state_write_is_seen_by_another_store(store: RedisStateStore) -> None:
    other = await reopened(store)
    try:
        record = TradingStateRecord(TradingState.HALTED, "drawdown", T0)
        await store.write_trading_state(record)
        assert await store.read_trading_state() == record  # its own write: at once
        assert await trading_state_within(other, record, PROPAGATION) == record
        resumed = TradingStateRecord(TradingState.ACTIVE, "manual resume", T0 + timedelta(hours=1))
        await other.write_trading_state(resumed)
        assert await trading_state_within(store, resumed, PROPAGATION) == resumed
    finally:
        await other.close()


async def test_accounts_do_not_share_keys(store: RedisStateStore, redis_config) -> None:
    other = RedisStateStore(redis_config(account="second"))
    await other.open()
    try:
        await store.save_state(RiskState(orders_total=5))
        await store.write_trading_state(TradingStateRecord(TradingState.HALTED, "x", T0))
        assert await other.load_state() is None
        assert await other.read_trading_state() is None
    finally:
        await other.close()


async def test_unopened_store_says_so(redis_config) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        await RedisStateStore(redis_config()).load_state()


async def test_scripts_are_reloaded_after_the_server_forgets_them(store: RedisStateStore) -> None:
    await store.append_journal(order(1))
    await store._client.script_flush()  # what a server restart or failover does
    await store.append_journal(order(2))
    await store.save_state(RiskState(orders_total=2))
    assert [r.client_order_id for r in await store.read_journal()] == [
        "strat.default-00000001",
        "strat.default-00000002",
    ]
