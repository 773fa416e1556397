"""IBBroker inside the real runtime (SafeBroker, journal, strategy thread) against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from ml4t.backtest import OrderStatus, OrderType, Strategy
from ml4t_live_ib.broker import IBBroker

from ml4t_live_core.compose import build
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import LOAD_ENV_VAR
from ml4t_live_core.state import JournalEvent

from .conftest import fast_config, wait_until

# the sim plugin's replay feed drives the engine; absent when the plugin is tested alone (nox)
ReplayFeed = pytest.importorskip("ml4t_live_sim").ReplayFeed

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def bars(n: int = 3, price: float = 100.0) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "timestamp": T0 + timedelta(minutes=i),
                "asset": "AAPL",
                "open": price,
                "high": price,
                "low": price,
                "close": price,
                "volume": 1000.0,
            }
            for i in range(n)
        ]
    )


def runtime_for(
    strategy: Strategy, broker: IBBroker, store: MemoryStateStore, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim")  # core behaviour only: no risk-check plugins
    return build(
        strategy,
        None,
        overrides={"runtime": {"strategy_id": "ib-test"}},
        broker=broker,
        feed=ReplayFeed(data=bars()),
        store=store,
    )


class BuyOnceThenLook(Strategy):
    def __init__(self) -> None:
        self.submitted = None
        self.rejected: list = []
        self.reason = None

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.submitted is None:
            self.submitted = broker.submit_order("AAPL", 10)
        else:
            self.rejected = broker.get_rejected_orders()
            self.reason = broker.last_rejection_reason


async def test_error_201_reaches_the_strategy_as_a_rejected_order(ib_gateway, monkeypatch):
    ib_gateway.reject_next(201, "Order rejected - reason:The account is restricted")
    strategy = BuyOnceThenLook()
    store = MemoryStateStore()
    runtime = runtime_for(strategy, IBBroker(fast_config(ib_gateway.port)), store, monkeypatch)
    await runtime.engine.run(install_signal_handlers=False)
    assert strategy.submitted.status is OrderStatus.REJECTED
    [rejected] = strategy.rejected
    assert rejected.order_id == strategy.submitted.order_id
    assert "201" in strategy.reason and "account is restricted" in strategy.reason
    journal = [r for r in store.journal if r.client_order_id == rejected.order_id]
    assert [r.event for r in journal] == [JournalEvent.SUBMITTED, JournalEvent.REJECTED]


async def test_gateway_restart_journal_and_ib_agree(ib_gateway, monkeypatch):
    ib_gateway.auto_fill_market = True
    ib_gateway.set_price("AAPL", 100.0)
    store = MemoryStateStore()
    broker = IBBroker(fast_config(ib_gateway.port))
    runtime = runtime_for(BuyOnceThenLook(), broker, store, monkeypatch)
    safe = runtime.safe
    await safe.start()
    try:
        await safe.on_bar(
            T0,
            {"AAPL": {"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1.0}},
        )
        bought = await safe.submit_order("AAPL", 10)
        resting = await safe.submit_order("AAPL", 5, order_type=OrderType.LIMIT, limit_price=95.0)
        await wait_until(lambda: any(r.event is JournalEvent.FILLED for r in store.journal))

        await ib_gateway.restart()
        await wait_until(lambda: safe.connected and broker.is_connected)
        await safe.sync_account()

        # IB and the runtime agree on the position and on the one open order ...
        assert (await broker.get_positions())["AAPL"].quantity == 10.0
        assert safe.ledger.holdings["AAPL"].quantity == 10.0
        assert [o.order_ref for o in ib_gateway.book.open_orders()] == [resting.order_id]
        assert [o.order_id for o in await broker.get_open_orders()] == [resting.order_id]
        # ... and with the journal: the market order filled once, the limit order is still open.
        filled = [r.client_order_id for r in store.journal if r.event is JournalEvent.FILLED]
        assert filled == [bought.order_id]

        ib_gateway.set_price("AAPL", 94.0)
        await wait_until(lambda: sum(r.event is JournalEvent.FILLED for r in store.journal) == 2)
        journal_qty = sum(
            r.filled_quantity or 0 for r in store.journal if r.event is JournalEvent.FILLED
        )
        assert journal_qty == ib_gateway.book.positions[265598].quantity == 15.0
        assert len(ib_gateway.placed) == 2
    finally:
        await safe.stop()


async def test_process_restart_journal_and_ib_agree(ib_gateway, monkeypatch):
    ib_gateway.auto_fill_market = True
    ib_gateway.set_price("AAPL", 100.0)
    store = MemoryStateStore()
    bar = {"AAPL": {"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1.0}}

    first = runtime_for(
        BuyOnceThenLook(), IBBroker(fast_config(ib_gateway.port)), store, monkeypatch
    ).safe
    await first.start()
    await first.on_bar(T0, bar)
    await first.submit_order("AAPL", 10)
    resting = await first.submit_order("AAPL", 5, order_type=OrderType.LIMIT, limit_price=95.0)
    await wait_until(lambda: any(r.event is JournalEvent.FILLED for r in store.journal))
    await first.stop()  # the process ends; the limit order keeps working at IB

    second = runtime_for(
        BuyOnceThenLook(), IBBroker(fast_config(ib_gateway.port)), store, monkeypatch
    ).safe
    await second.start()
    try:
        report = second.reconciliation
        assert report.clean and report.positions_checked, report.summary()
        assert [o.order_id for o in report.adopted] == [resting.order_id]
        assert second.ledger.holdings["AAPL"].quantity == 10.0
        assert len(ib_gateway.placed) == 2  # nothing was sent again
    finally:
        await second.stop()


async def test_bracket_through_safebroker_is_native_at_ib(ib_gateway, monkeypatch):
    store = MemoryStateStore()
    broker = IBBroker(fast_config(ib_gateway.port))
    safe = runtime_for(BuyOnceThenLook(), broker, store, monkeypatch).safe
    await safe.start()
    try:
        bar = {"AAPL": {"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1.0}}
        await safe.on_bar(T0, bar)
        entry, tp, sl = await safe.submit_bracket("AAPL", 10, take_profit=110.0, stop_loss=90.0)
        parent = ib_gateway.order(entry.order_id)
        children = [ib_gateway.order(tp.order_id), ib_gateway.order(sl.order_id)]
        assert [(c.order_type, c.parent_id) for c in children] == [
            ("LMT", parent.order_id),
            ("STP", parent.order_id),
        ]
        ib_gateway.fill(entry.order_id, price=100.0)
        ib_gateway.set_price("AAPL", 89.0)  # the stop-loss fills, IB cancels the take-profit
        await wait_until(lambda: safe._orders[sl.order_id].status is OrderStatus.FILLED)
        await wait_until(lambda: safe._orders[tp.order_id].status is OrderStatus.CANCELLED)
        assert "AAPL" not in safe.ledger.holdings
        events = [(r.client_order_id, r.event) for r in store.journal if r.client_order_id]
        assert (sl.order_id, JournalEvent.FILLED) in events
        assert (tp.order_id, JournalEvent.CANCELLED) in events
    finally:
        await safe.stop()


async def test_account_id_in_an_ib_error_text_never_reaches_strategy_or_journal(
    ib_gateway, monkeypatch, caplog
):
    import logging

    caplog.set_level(logging.DEBUG)
    account = ib_gateway.book.account
    ib_gateway.reject_next(201, f"Order rejected - reason:account {account} may not trade AAPL")
    strategy = BuyOnceThenLook()
    store = MemoryStateStore()
    runtime = runtime_for(strategy, IBBroker(fast_config(ib_gateway.port)), store, monkeypatch)
    await runtime.engine.run(install_signal_handlers=False)
    assert strategy.submitted.status is OrderStatus.REJECTED
    assert "may not trade AAPL" in strategy.reason  # IB's reason, with the account masked
    texts = [strategy.reason, strategy.submitted.rejection_reason or ""]
    texts += [repr(r) for r in store.journal]
    texts += [r.getMessage() for r in caplog.records if r.name.startswith("ml4t_live")]
    assert [t for t in texts if account in t] == []
