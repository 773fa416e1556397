"""Fail closed: when the journal cannot be written, no order is sent and trading halts."""

from __future__ import annotations

from ml4t.backtest import OrderStatus, Strategy
from ml4t_live_sim import SimBroker

from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import JournalEvent


class BrokenDisk(MemoryStateStore):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    async def append_journal(self, record):  # type: ignore[no-untyped-def]
        if len(self.journal) >= self.fail_after:
            raise OSError(28, "No space left on device")
        await super().append_journal(record)


class CountingSimBroker(SimBroker):
    def __init__(self) -> None:
        super().__init__()
        self.received: list = []

    async def submit_order(self, order):  # type: ignore[no-untyped-def]
        self.received.append(order)
        return await super().submit_order(order)


class BuyEveryBar(Strategy):
    def __init__(self) -> None:
        self.orders: list = []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if len(self.orders) < 5:
            self.orders.append(broker.submit_order("A000", 1))


async def test_unwritable_journal_rejects_the_order_and_halts(make_runtime):
    store = BrokenDisk(fail_after=0)
    broker = CountingSimBroker()
    strategy = BuyEveryBar()
    runtime = make_runtime(strategy, broker=broker, store=store)
    await runtime.engine.run(install_signal_handlers=False)
    first = strategy.orders[0]
    assert first.status is OrderStatus.REJECTED
    assert "journal: could not record the order durably" in first.rejection_reason
    assert "No space left" in first.rejection_reason
    assert broker.received == []
    assert runtime.safe.trading_state is TradingState.HALTED
    assert "persistence failed" in runtime.safe.risk_state.trading_state_reason


async def test_journal_keeps_decisions_in_order(make_runtime):
    store = MemoryStateStore()
    runtime = make_runtime(BuyEveryBar(), store=store)
    await runtime.engine.run(install_signal_handlers=False)
    events = [(r.client_order_id, r.event) for r in store.journal if r.client_order_id]
    for order_id in {oid for oid, _ in events}:
        mine = [e for oid, e in events if oid == order_id]
        assert mine[0] is JournalEvent.SUBMITTED and mine[-1] is JournalEvent.FILLED
    assert store.state is not None and store.state.orders_total == 5
