"""A conformance kit for `StateStore` backends: subclass `StateStoreContract` in a test module.

    class TestJsonStore(StateStoreContract):
        def make_store(self, location):            # a NEW, unopened store on `location`
            return JsonStateStore(JsonStateConfig(directory=location))
        def write_raw_state(self, store, raw):      # put bytes where the backend keeps the state
            store.state_path.write_bytes(raw)
        def read_raw_state(self, store):            # the stored state bytes, None when absent
            return store.state_path.read_bytes() if store.state_path.exists() else None

`location` is a fixture (default: a fresh `tmp_path`); override it when the backend needs a
server (e.g. a Redis URL + unique key prefix). Every test opens and closes its own stores;
several stores on one location stand for several processes or a restart.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from ml4t_live_core.errors import StateCorruptError
from ml4t_live_core.protocols import GroupCommitJournal, StateStore, TradingStateRecord
from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import STATE_SCHEMA_VERSION, JournalEvent, JournalRecord, RiskState

RESET_COMMAND = "ml4t-live state reset --confirm"
T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


async def trading_state_within(
    store: StateStore, expected: TradingStateRecord | None, seconds: float
) -> TradingStateRecord | None:
    """What `store` reads once it reads `expected`, or after `seconds` (0: read once).

    A backend that follows other processes' changes by messages (Redis pub/sub) sees them when
    the message arrives, not at the instant the writer returns; tests wait for it, bounded.
    """
    deadline = asyncio.get_running_loop().time() + seconds
    while (record := await store.read_trading_state()) != expected:
        if asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.005)
    return record


def order_record(
    seq: int,
    *,
    asset: str = "AAPL",
    minutes: int = 0,
    prefix: str = "strat.acct",
    event: JournalEvent = JournalEvent.SUBMITTED,
) -> JournalRecord:
    """A journal record for client order `<prefix>-<seq>`, `minutes` after T0."""
    return JournalRecord(
        timestamp=T0 + timedelta(minutes=minutes),
        event=event,
        client_order_id=f"{prefix}-{seq:08d}",
        asset=asset,
        side="buy",
        quantity=10.0,
        order_type="limit",
        limit_price=101.25,
        reasons=("max-order: too big", "collar: far"),
        shadow=False,
        detail={"note": "contract", "n": seq},
    )


def sample_state(**changes: Any) -> RiskState:
    base = RiskState(
        trading_day=T0.date(),
        start_of_day_equity=100_000.0,
        high_water_mark=101_500.5,
        orders_today=3,
        orders_total=42,
        trading_state=TradingState.REDUCING,
        trading_state_reason="daily loss 80% of limit",
        trading_state_since=T0,
        next_client_order_seq=43,
        extra={"k": [1, 2]},
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


class StateStoreContract(ABC):
    """What every state backend must do (see `StateStore` in ml4t_live_core.protocols)."""

    # --- what a backend's test module provides ------------------------------------------------
    #: How long another instance's trading-state change may take to be read here (0: at once).
    trading_state_propagation: float = 0.0

    @pytest.fixture
    def location(self, tmp_path: Any) -> Any:
        return tmp_path / "state"

    @abstractmethod
    def make_store(self, location: Any) -> StateStore:
        """A new, unopened store on `location` (called several times per test)."""

    @abstractmethod
    def write_raw_state(self, store: StateStore, raw: bytes) -> None:
        """Overwrite the stored risk state with `raw` bytes, bypassing the store's checks."""

    @abstractmethod
    def read_raw_state(self, store: StateStore) -> bytes | None:
        """The stored risk-state bytes exactly as kept (None when there are none)."""

    # --- helpers -------------------------------------------------------------------------------
    @pytest_asyncio.fixture
    async def opened(self, location: Any) -> AsyncIterator[Any]:
        """`await opened()` gives an opened store on `location`; all are closed afterwards."""
        stores: list[StateStore] = []

        async def open_one() -> StateStore:
            store = self.make_store(location)
            await store.open()
            stores.append(store)
            return store

        yield open_one
        for store in stores:
            await store.close()

    # --- risk state ---------------------------------------------------------------------------
    async def test_store_satisfies_protocol(self, opened: Any) -> None:
        store = await opened()
        assert isinstance(store, StateStore)
        assert store.backend and store.location

    async def test_missing_state_is_a_fresh_start(self, opened: Any) -> None:
        store = await opened()
        assert await store.load_state() is None
        assert await store.read_trading_state() is None
        assert list(await store.read_journal()) == []

    async def test_state_round_trips_across_instances(self, opened: Any) -> None:
        writer = await opened()
        state = sample_state()
        await writer.save_state(state)
        reader = await opened()
        assert await reader.load_state() == state

    async def test_save_replaces_the_previous_state(self, opened: Any) -> None:
        store = await opened()
        await store.save_state(sample_state(orders_total=1))
        await store.save_state(sample_state(orders_total=2, trading_state=TradingState.HALTED))
        loaded = await (await opened()).load_state()
        assert loaded is not None and loaded.orders_total == 2
        assert loaded.trading_state is TradingState.HALTED

    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param(b"\x00\xffgarbage\x13", id="garbage"),
            pytest.param(b'{"schema_version": 1, "trading_day": "2024-', id="truncated"),
            pytest.param(
                json.dumps(
                    {**sample_state().to_dict(), "schema_version": STATE_SCHEMA_VERSION + 7}
                ).encode(),
                id="newer-schema",
            ),
            pytest.param(
                json.dumps({**sample_state().to_dict(), "orders_total": "many"}).encode(),
                id="bad-field",
            ),
            pytest.param(b"[]", id="not-an-object"),
        ],
    )
    async def test_corrupt_state_raises_and_is_not_reset(self, opened: Any, raw: bytes) -> None:
        store = await opened()
        await store.save_state(sample_state())
        self.write_raw_state(store, raw)
        for _ in range(2):  # the first failure must not have "repaired" anything
            with pytest.raises(StateCorruptError) as caught:
                await (await opened()).load_state()
            message = str(caught.value)
            assert caught.value.backend == store.backend and store.backend in message
            assert caught.value.location and caught.value.location in message
            assert RESET_COMMAND in message
        assert self.read_raw_state(store) == raw

    # --- journal ------------------------------------------------------------------------------
    async def test_journal_appends_and_reads_back_in_order(self, opened: Any) -> None:
        store = await opened()
        records = [order_record(i, minutes=i) for i in range(1, 6)]
        records.append(
            JournalRecord(
                T0 + timedelta(minutes=9),
                JournalEvent.TRADING_STATE,
                reasons=("manual halt",),
                detail={"state": "halted"},
            )
        )
        for record in records:
            await store.append_journal(record)
        assert list(await (await opened()).read_journal()) == records

    async def test_concurrent_appends_are_all_kept_whole(self, opened: Any) -> None:
        store = await opened()
        records = [order_record(i, minutes=i) for i in range(1, 41)]
        await asyncio.gather(*(store.append_journal(r) for r in records))
        assert (
            sorted(await (await opened()).read_journal(), key=lambda r: r.client_order_id or "")
            == records
        )

    async def test_group_commit_appends_every_record_in_order(self, opened: Any) -> None:
        """`append_journal_many` (optional: group commit) keeps order, ids and whole records."""
        store: StateStore = await opened()
        if not isinstance(store, GroupCommitJournal):
            pytest.skip(f"{type(store).__name__} has no append_journal_many (it is optional)")
        mark = JournalRecord(T0, JournalEvent.MARK, detail={"equity": 100_000.0})
        first = [order_record(7, minutes=1), mark, order_record(3, minutes=2)]
        await store.append_journal(order_record(1))
        await store.append_journal_many(first)
        await store.append_journal_many([])
        await store.append_journal_many([mark])  # a group with no client order id at all
        await store.append_journal(order_record(4, minutes=3))
        reader = await opened()
        assert list(await reader.read_journal()) == [
            order_record(1), *first, mark, order_record(4, minutes=3)
        ]
        loaded = await reader.load_state()
        assert loaded is not None and loaded.next_client_order_seq == 8

    async def test_journal_filters_by_since_and_asset(self, opened: Any) -> None:
        store = await opened()
        for i, asset in enumerate(["AAPL", "MSFT", "AAPL", "MSFT", "AAPL"], start=1):
            await store.append_journal(order_record(i, asset=asset, minutes=10 * i))
        since = T0 + timedelta(minutes=30)
        assert [r.client_order_id for r in await store.read_journal(asset="AAPL")] == [
            "strat.acct-00000001",
            "strat.acct-00000003",
            "strat.acct-00000005",
        ]
        assert [r.client_order_id for r in await store.read_journal(since=since)] == [
            "strat.acct-00000003",
            "strat.acct-00000004",
            "strat.acct-00000005",
        ]
        assert [r.client_order_id for r in await store.read_journal(since=since, asset="MSFT")] == [
            "strat.acct-00000004"
        ]

    async def test_next_client_order_seq_exceeds_every_journal_id(self, opened: Any) -> None:
        store = await opened()
        for seq in (3, 17, 9):
            await store.append_journal(order_record(seq))
        loaded = await (await opened()).load_state()  # no state saved yet, journal has ids
        assert loaded is not None and loaded.next_client_order_seq == 18
        await store.save_state(sample_state(next_client_order_seq=5))  # the state lags the journal
        loaded = await (await opened()).load_state()
        assert loaded is not None and loaded.next_client_order_seq == 18
        await store.save_state(sample_state(next_client_order_seq=30))  # the state is ahead
        loaded = await (await opened()).load_state()
        assert loaded is not None and loaded.next_client_order_seq == 30

    # --- trading state ------------------------------------------------------------------------
    async def test_trading_state_is_seen_by_another_instance(self, opened: Any) -> None:
        runtime, cli = await opened(), await opened()
        assert await runtime.read_trading_state() is None
        halt = TradingStateRecord(TradingState.HALTED, "manual halt: test", T0)
        await cli.write_trading_state(halt)
        assert await trading_state_within(runtime, halt, self.trading_state_propagation) == halt
        resume = TradingStateRecord(TradingState.ACTIVE, "manual resume", T0 + timedelta(minutes=1))
        await cli.write_trading_state(resume)
        seen = await trading_state_within(runtime, resume, self.trading_state_propagation)
        assert seen == resume

    # --- reset --------------------------------------------------------------------------------
    async def test_reset_of_a_corrupt_state_keeps_the_old_bytes_and_halts(
        self, opened: Any
    ) -> None:
        store = await opened()
        for seq in (1, 2, 3):
            await store.append_journal(order_record(seq))
        self.write_raw_state(store, b'{"next_client_order_seq": 77, torn')
        with pytest.raises(StateCorruptError):
            await store.load_state()
        kept = await store.reset()
        assert kept, "reset must say where the old bytes were kept"
        loaded = await (await opened()).load_state()
        assert loaded is not None and loaded.trading_state is TradingState.HALTED
        assert "resume" in loaded.trading_state_reason
        assert loaded.next_client_order_seq >= 77  # salvaged from the corrupt bytes
        assert len(await store.read_journal()) == 3  # a sound journal is kept
        record = await (await opened()).read_trading_state()
        assert record is not None and record.state is TradingState.HALTED

    async def test_reset_of_a_sound_state_never_reuses_ids(self, opened: Any) -> None:
        store = await opened()
        await store.save_state(sample_state(next_client_order_seq=120))
        await store.append_journal(order_record(150))
        await store.reset()
        loaded = await (await opened()).load_state()
        assert loaded is not None and loaded.next_client_order_seq == 151
        assert loaded.orders_total == 0
