"""Idempotent client order ids: never reused after a crash, kept through a timeout."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ml4t.backtest import Order, OrderStatus, OrderType, Strategy
from ml4t_live_sim import SimBroker

from ml4t_live_core.clock import trading_day
from ml4t_live_core.state import (
    JournalEvent,
    JournalRecord,
    RiskState,
    counters_after_journal,
    encode_state,
)

from .conftest import durable_store


class BuyEachBar(Strategy):
    def __init__(self, n: int = 4) -> None:
        self.n, self.orders = n, []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if len(self.orders) < self.n:
            self.orders.append(broker.submit_order("A000", 1))


async def test_ids_are_never_reused_when_the_state_lags_the_journal(
    make_runtime, backend: str, state_dir: Path
) -> None:
    first = BuyEachBar()
    await make_runtime(first, store=durable_store(backend, state_dir)).engine.run(
        install_signal_handlers=False
    )
    ids_before = {o.order_id for o in first.orders}
    # A crash before the state was saved: the state says seq 1, the journal holds 1..4.
    store = durable_store(backend, state_dir)
    await store.open()
    await store.save_state(RiskState(next_client_order_seq=1))
    await store.close()

    second = BuyEachBar()
    await make_runtime(second, store=durable_store(backend, state_dir)).engine.run(
        install_signal_handlers=False
    )
    ids_after = {o.order_id for o in second.orders}
    assert ids_before.isdisjoint(ids_after)
    store = durable_store(backend, state_dir)
    submitted = [
        r.client_order_id for r in await store.read_journal() if r.event is JournalEvent.SUBMITTED
    ]
    await store.close()
    assert len(submitted) == len(set(submitted)) == 8


class SlowToAcknowledge(SimBroker):
    """Receives the order, then never answers (a lost acknowledgement)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Order] = []
        self.hang = True

    async def submit_order(self, order: Order) -> Order:
        self.received.append(order)
        result = await super().submit_order(order)
        if self.hang:
            await asyncio.Event().wait()
        return result


async def test_a_timed_out_order_keeps_its_id_through_a_restart(
    make_runtime, state_dir: Path
) -> None:
    broker = SlowToAcknowledge()
    runtime = make_runtime(
        BuyEachBar(n=0),
        broker=broker,
        store=durable_store("json", state_dir),
        overrides={"runtime": {"strategy_id": "test", "order_timeout": 0.05}},
    )
    await runtime.safe.start()
    order = await runtime.safe.submit_order("A000", 1, order_type=OrderType.LIMIT, limit_price=1.0)
    assert order.status is OrderStatus.PENDING  # unknown outcome: not rejected, not resent
    assert [o.order_id for o in broker.received] == [order.order_id]
    await runtime.safe.stop()

    broker.hang = False  # the venue still holds the order; a restart must recognise it by its id
    restarted = make_runtime(BuyEachBar(n=0), broker=broker, store=durable_store("json", state_dir))
    await restarted.safe.start()
    report = restarted.safe.reconciliation
    assert report is not None and order.order_id not in report.unknown_at_broker
    assert order.order_id in {o.order_id for o in report.adopted}
    assert restarted.safe._next_client_order_id() > order.order_id
    await restarted.safe.stop()


async def test_a_state_file_from_a_newer_runtime_is_not_overwritten_on_start(
    make_runtime, state_dir: Path
) -> None:
    state_dir.mkdir()
    raw = encode_state(RiskState()).replace(b'"schema_version": 1', b'"schema_version": 2')
    (state_dir / "state.json").write_bytes(raw)
    runtime = make_runtime(BuyEachBar(), store=durable_store("json", state_dir))
    try:
        await runtime.engine.run(install_signal_handlers=False)
    except Exception as exc:
        assert "newer than this runtime reads" in str(exc)
    assert (state_dir / "state.json").read_bytes() == raw


async def test_order_counters_a_crash_lost_are_recounted_from_the_journal(
    make_runtime, backend: str, state_dir: Path
) -> None:
    await make_runtime(BuyEachBar(), store=durable_store(backend, state_dir)).engine.run(
        install_signal_handlers=False
    )
    store = durable_store(backend, state_dir)
    await store.open()
    saved = await store.load_state()
    assert saved is not None and (saved.orders_today, saved.orders_total) == (4, 4)
    # A crash after the first order's save: the state counts one, the journal holds four.
    lagging = saved.copy()
    lagging.orders_today = lagging.orders_total = 1
    await store.save_state(lagging)
    await store.close()

    await make_runtime(BuyEachBar(n=0), store=durable_store(backend, state_dir)).engine.run(
        install_signal_handlers=False
    )
    store = durable_store(backend, state_dir)
    await store.open()
    after = await store.load_state()
    await store.close()
    assert after is not None and after.trading_day == saved.trading_day
    assert (after.orders_today, after.orders_total) == (4, 4)


def test_recount_takes_only_this_strategys_orders_of_the_saved_day_and_never_lowers() -> None:
    ny = ZoneInfo("America/New_York")
    day = date(2024, 1, 2)

    def submitted(client_order_id: str, at: datetime) -> JournalRecord:
        return JournalRecord(
            timestamp=at, event=JournalEvent.SUBMITTED, client_order_id=client_order_id,
            asset="A", side="buy", quantity=1.0, order_type="market",
        )

    late_evening = datetime(2024, 1, 3, 3, tzinfo=UTC)  # 22:00 on the 2nd in New York
    records = [
        submitted("s.acct-00000001", datetime(2024, 1, 2, 15, tzinfo=UTC)),
        submitted("s.acct-00000002", late_evening),
        submitted("other.acct-00000001", datetime(2024, 1, 2, 16, tzinfo=UTC)),  # not ours
        submitted("s.acct-00000003", datetime(2024, 1, 3, 15, tzinfo=UTC)),  # the next day
        JournalRecord(timestamp=late_evening, event=JournalEvent.REJECTED,
                      client_order_id="s.acct-00000004", asset="A", side="buy", quantity=1.0,
                      order_type="market"),
    ]
    state = RiskState(trading_day=day, orders_today=0, orders_total=10)
    def day_of(ts: datetime) -> date:
        return trading_day(ts, ny)

    assert counters_after_journal(state, records, "s.acct", day_of) == 2
    assert (state.orders_today, state.orders_total) == (2, 12)
    state = RiskState(trading_day=day, orders_today=5, orders_total=10)  # counted more: kept
    assert counters_after_journal(state, records, "s.acct", day_of) == 0
    assert (state.orders_today, state.orders_total) == (5, 10)
