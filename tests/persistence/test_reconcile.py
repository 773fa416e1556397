"""Start-up reconciliation: journal vs the sim broker's resting orders and positions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from ml4t.backtest import Order, OrderSide, OrderType, Position, Strategy
from ml4t_live_sim import SimBroker

from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.protocols import AccountSnapshot
from ml4t_live_core.reconcile import (
    PositionMismatch,
    compare,
    journal_open_orders,
    journal_positions,
)
from ml4t_live_core.state import JournalEvent, JournalRecord

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
PREFIX = "test.default"  # strategy_id "test" (tests/conftest.py), account "default"


class Idle(Strategy):
    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        return None


def rec(
    event: JournalEvent,
    seq: int,
    asset: str = "AAPL",
    *,
    side: str = "buy",
    filled: float | None = None,
    shadow: bool = False,
) -> JournalRecord:
    return JournalRecord(
        T0,
        event,
        client_order_id=f"{PREFIX}-{seq:08d}",
        asset=asset,
        side=side,
        quantity=10.0,
        order_type="limit",
        limit_price=50.0,
        filled_quantity=filled,
        fill_price=100.0 if filled else None,
        shadow=shadow,
    )


def resting(seq: int | str, asset: str = "AAPL") -> Order:
    order_id = seq if isinstance(seq, str) else f"{PREFIX}-{seq:08d}"
    return Order(
        asset=asset,
        side=OrderSide.BUY,
        quantity=10.0,
        order_type=OrderType.LIMIT,
        limit_price=1.0,
        order_id=order_id,
        created_at=T0,
    )


async def seeded_broker(orders: list[Order], positions: dict[str, float]) -> SimBroker:
    broker = SimBroker()
    await broker.connect()
    broker.seed(
        AccountSnapshot(cash=100_000.0, equity=100_000.0, buying_power=100_000.0),
        {a: Position(a, q, 100.0, T0, current_price=100.0) for a, q in positions.items()},
    )
    for order in orders:
        await broker.submit_order(order)
    return broker


async def test_start_reports_every_difference_and_adopts_broker_orders(
    make_runtime, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStateStore()
    store.journal = [
        rec(JournalEvent.SUBMITTED, 1),
        rec(JournalEvent.ACKNOWLEDGED, 1),  # open, broker lost it
        rec(JournalEvent.SUBMITTED, 2),  # open at both
        rec(JournalEvent.SUBMITTED, 3),
        rec(JournalEvent.FILLED, 3, filled=10.0),  # AAPL +10
        rec(JournalEvent.SUBMITTED, 4, "MSFT"),
        rec(JournalEvent.CANCELLED, 4, "MSFT"),
        rec(JournalEvent.SUBMITTED, 5, "TSLA", shadow=True),  # shadow: never real
    ]
    broker = await seeded_broker(
        [resting(2), resting("manual-order-at-tws", "MSFT")], {"AAPL": 10.0, "MSFT": 5.0}
    )
    runtime = make_runtime(Idle(), broker=broker, store=store)
    with caplog.at_level(logging.WARNING, logger="ml4t_live.reconcile"):
        await runtime.safe.start()
    report = runtime.safe.reconciliation
    assert report is not None and not report.clean
    assert report.unknown_at_broker == ("manual-order-at-tws",)
    assert report.missing_at_broker == (f"{PREFIX}-00000001",)
    assert report.position_mismatches == (PositionMismatch("MSFT", 0.0, 5.0),)
    assert (
        "manual-order-at-tws" in caplog.text
        and f"{PREFIX}-00000001" in caplog.text
        and "MSFT" in caplog.text
    )
    # adopted: the strategy can cancel an order it never placed
    assert {o.order_id for o in report.adopted} == {f"{PREFIX}-00000002", "manual-order-at-tws"}
    assert await runtime.safe.cancel_order("manual-order-at-tws") is True
    assert runtime.safe.risk_state.next_client_order_seq == 6  # past every id in the journal
    await runtime.safe.stop()


async def test_agreeing_journal_and_broker_give_a_clean_report(make_runtime) -> None:
    store = MemoryStateStore()
    store.journal = [
        rec(JournalEvent.SUBMITTED, 1),
        rec(JournalEvent.FILLED, 1, filled=10.0),
        rec(JournalEvent.SUBMITTED, 2),
    ]
    broker = await seeded_broker([resting(2)], {"AAPL": 10.0})
    runtime = make_runtime(Idle(), broker=broker, store=store)
    await runtime.safe.start()
    assert runtime.safe.reconciliation is not None and runtime.safe.reconciliation.clean
    assert runtime.safe.reconciliation.positions_checked
    await runtime.safe.stop()


async def test_a_broker_order_with_our_prefix_moves_the_sequence_past_it(make_runtime) -> None:
    broker = await seeded_broker([resting(41)], {})  # sent by a previous run whose journal was lost
    runtime = make_runtime(Idle(), broker=broker, store=MemoryStateStore())
    await runtime.safe.start()
    assert runtime.safe.reconciliation.unknown_at_broker == (f"{PREFIX}-00000041",)  # type: ignore[union-attr]
    assert runtime.safe.risk_state.next_client_order_seq == 42
    await runtime.safe.stop()


def test_journal_positions_net_buys_sells_and_partial_fills() -> None:
    records = [
        rec(JournalEvent.PARTIALLY_FILLED, 1, filled=4.0),
        rec(JournalEvent.FILLED, 1, filled=6.0),
        rec(JournalEvent.FILLED, 2, side="sell", filled=3.0),
        rec(JournalEvent.FILLED, 3, "MSFT", side="sell", filled=2.0),
        rec(JournalEvent.FILLED, 4, "TSLA", filled=9.0, shadow=True),
    ]
    assert journal_positions(records) == {"AAPL": 7.0, "MSFT": -2.0}
    assert (
        journal_positions([rec(JournalEvent.SUBMITTED, 1)]) is None
    )  # no fills: nothing to compare


def test_open_orders_close_on_any_terminal_event() -> None:
    records = [rec(JournalEvent.SUBMITTED, n) for n in (1, 2, 3, 4)] + [
        rec(JournalEvent.FILLED, 1, filled=10.0),
        rec(JournalEvent.CANCELLED, 2),
        rec(JournalEvent.REJECTED, 3),
        rec(JournalEvent.PARTIALLY_FILLED, 4, filled=1.0),
    ]
    assert list(journal_open_orders(records)) == [f"{PREFIX}-00000004"]


def test_without_fills_positions_are_not_compared() -> None:
    report = compare([rec(JournalEvent.SUBMITTED, 1)], [resting(1)], {"AAPL": 100.0})
    assert report.clean and not report.positions_checked
