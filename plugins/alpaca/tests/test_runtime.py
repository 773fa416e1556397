"""The whole runtime (engine, wrapper, SafeBroker, JSON state) on the real alpaca-py against the
simulator: strategy orders fill through the stream, survive a stream drop and a restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from ml4t.backtest import OrderType, Strategy
from ml4t_live_alpaca import AlpacaBroker, AlpacaBrokerConfig, AlpacaDataFeed, AlpacaFeedConfig
from ml4t_live_testing.alpaca import (
    FAKE_KEY_ID,
    FAKE_SECRET,
    AlpacaSimulator,
    alpaca_broker_settings,
    alpaca_feed_settings,
)

from ml4t_live_core.compose import Runtime, build
from ml4t_live_core.state import JournalEvent

from .conftest import wait_until

ASSETS = ["AAPL", "MSFT"]


class SubmitOnBar(Strategy):
    """Sends the given orders on the first bar (written only against ml4t-backtest)."""

    def __init__(self, orders: list[tuple[str, float, dict[str, Any]]]):
        self.orders = orders
        self.results: list[Any] = []

    def on_data(self, timestamp: datetime, data: dict, context: dict, broker: Any) -> None:
        if not self.results:
            self.results = [broker.submit_order(asset, qty, **kw) for asset, qty, kw in self.orders]


def minute_bars(minutes: int, start_price: float = 100.0) -> pl.DataFrame:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes)
    rows = []
    for i in range(minutes):
        for j, asset in enumerate(ASSETS):
            price = start_price * (1 + j) + i * 0.1
            rows.append(
                {
                    "timestamp": start + timedelta(minutes=i),
                    "asset": asset,
                    "open": price,
                    "high": price + 0.2,
                    "low": price - 0.2,
                    "close": price,
                    "volume": 1000.0,
                }
            )
    return pl.DataFrame(rows)


@pytest.fixture
def compose(
    alpaca_env: dict[str, str], load_only: Callable[..., None], tmp_path: Path
) -> Callable[..., Runtime]:
    # The whole runtime: skipped where sim and state-json are absent (this plugin tested alone).
    load_only("sim", "alpaca", "state-json")

    def make(sim: AlpacaSimulator, strategy: Strategy, **broker_overrides: Any) -> Runtime:
        broker = AlpacaBroker(AlpacaBrokerConfig(**alpaca_broker_settings(sim, **broker_overrides)))
        feed = AlpacaDataFeed(AlpacaFeedConfig(**alpaca_feed_settings(sim, ASSETS)))
        overrides = {
            "runtime": {"strategy_id": "alpaca-test", "order_timeout": 5.0},
            "state": {"use": "json", "json": {"directory": str(tmp_path / "state")}},
        }
        return build(strategy, None, overrides=overrides, broker=broker, feed=feed)

    return make


async def start(runtime: Runtime, sim: AlpacaSimulator) -> asyncio.Task[Any]:
    task = asyncio.create_task(runtime.engine.run(install_signal_handlers=False))
    await wait_until(
        lambda: all(sim.data_subscriptions().get(a) for a in ASSETS) or task.done(),
        what="feed subscription",
    )
    return task


async def stop(runtime: Runtime, task: asyncio.Task[Any]) -> None:
    runtime.engine.request_stop("test finished")
    await asyncio.wait_for(task, 10)


def filled_by_journal(records: list[Any]) -> dict[str, float]:
    positions: dict[str, float] = {}
    for r in records:
        if r.event in (JournalEvent.FILLED, JournalEvent.PARTIALLY_FILLED):
            signed = r.filled_quantity if r.side == "buy" else -r.filled_quantity
            positions[r.asset] = positions.get(r.asset, 0.0) + signed
    return {a: q for a, q in positions.items() if q}


def open_by_journal(records: list[Any]) -> set[str]:
    opened = {r.client_order_id for r in records if r.event is JournalEvent.SUBMITTED}
    closed = {
        r.client_order_id
        for r in records
        if r.event in (JournalEvent.FILLED, JournalEvent.CANCELLED, JournalEvent.REJECTED)
    }
    return opened - closed


async def test_strategy_order_fills_through_the_stream_and_position_and_cash_match(
    alpaca_sim, compose
):
    alpaca_sim.set_price("AAPL", 100.0)
    strategy = SubmitOnBar([("AAPL", 10, {})])
    runtime = compose(alpaca_sim, strategy)
    task = await start(runtime, alpaca_sim)
    alpaca_sim.stream_bars(minute_bars(1))
    # the fill can reach the runtime before submit_order has returned to the strategy thread
    await wait_until(
        lambda: strategy.results and runtime.safe.ledger.quantity("AAPL") == 10,
        what="the fill to reach the runtime",
    )
    (order,) = strategy.results
    assert [o["client_order_id"] for o in alpaca_sim.orders()] == [order.order_id]
    assert runtime.safe.ledger.cash == pytest.approx(alpaca_sim.cash)
    assert {
        a: runtime.safe.ledger.quantity(a) for a in ASSETS if runtime.safe.ledger.quantity(a)
    } == alpaca_sim.positions()
    await stop(runtime, task)
    journal = await runtime.store.read_journal()
    assert [r.event for r in journal if r.client_order_id == order.order_id][:1] == [
        JournalEvent.SUBMITTED
    ]
    assert filled_by_journal(journal) == alpaca_sim.positions() == {"AAPL": 10}


async def test_stream_drop_mid_session_loses_and_doubles_no_fill(alpaca_sim_manual, compose):
    sim = alpaca_sim_manual
    strategy = SubmitOnBar([("AAPL", 30, {"order_type": OrderType.LIMIT, "limit_price": 101.0})])
    runtime = compose(sim, strategy)
    task = await start(runtime, sim)
    sim.stream_bars(minute_bars(1))
    await wait_until(
        lambda: strategy.results and sim.open_orders(), what="the order at the simulator"
    )
    cid = strategy.results[0].order_id
    sim.partial_fill(cid, 10, price=100.5)
    await wait_until(lambda: runtime.safe.ledger.quantity("AAPL") == 10, what="first partial fill")

    sim.drop_trade_stream(refuse=2)
    sim.partial_fill(cid, 8, price=100.7)  # nobody listening: only reconciliation can recover it
    await wait_until(
        lambda: runtime.safe.ledger.quantity("AAPL") == 18 and runtime.safe.connected,
        what="reconciled fill after reconnect",
    )
    sim.duplicate_next_fill()
    sim.fill(cid, price=100.9)
    await wait_until(lambda: runtime.safe.ledger.quantity("AAPL") == 30, what="last fill")
    sim.stream_bars(
        minute_bars(1, start_price=100.9)
    )  # one more bar: any duplicate would land by now
    await stop(runtime, task)
    assert runtime.safe.ledger.quantity("AAPL") == sim.positions()["AAPL"] == 30
    assert runtime.safe.ledger.cash == pytest.approx(sim.cash)
    assert runtime.safe.stats.disconnects >= 1
    journal = await runtime.store.read_journal()
    assert filled_by_journal(journal) == {"AAPL": 30}


async def test_orders_are_refused_with_a_reason_while_the_stream_is_down(
    alpaca_sim_manual, compose
):
    sim = alpaca_sim_manual
    runtime = compose(
        sim, SubmitOnBar([]), reconnect_initial_backoff=5.0, reconnect_max_backoff=5.0
    )
    task = await start(runtime, sim)
    sim.drop_trade_stream(refuse=100)
    await wait_until(lambda: not runtime.safe.connected, what="disconnect seen by SafeBroker")
    order = await runtime.safe.submit_order("AAPL", 5)
    assert order.status.value == "rejected" and "disconnected" in order.rejection_reason
    assert sim.submissions() == []
    await stop(runtime, task)


async def test_restart_recovers_positions_and_open_orders_matching_the_journal(
    alpaca_sim_manual, compose
):
    sim = alpaca_sim_manual
    sim.set_price("AAPL", 100.0)
    sim.set_price("MSFT", 200.0)
    first = SubmitOnBar(
        [("AAPL", 10, {}), ("MSFT", 4, {"order_type": OrderType.LIMIT, "limit_price": 150.0})]
    )
    runtime = compose(sim, first)
    task = await start(runtime, sim)
    sim.stream_bars(minute_bars(1))
    await wait_until(
        lambda: len(first.results) == 2 and len(sim.open_orders()) == 2,
        what="both orders at the simulator",
    )
    aapl, msft = (o.order_id for o in first.results)
    sim.fill(aapl, price=100.0)
    sim.partial_fill(msft, 1, price=150.0)
    await wait_until(
        lambda: (
            runtime.safe.ledger.quantity("MSFT") == 1 and runtime.safe.ledger.quantity("AAPL") == 10
        ),
        what="fills before the crash",
    )
    await asyncio.sleep(0)  # let the journal writer drain what is queued
    await runtime.safe.recorder.flush()
    task.cancel()  # a crash: no on_end, no orderly stop
    await asyncio.gather(task, return_exceptions=True)
    await runtime.broker.disconnect()
    await runtime.feed.stop()

    second = compose(sim, SubmitOnBar([]))
    await second.safe.start()
    try:
        journal = list(await second.store.read_journal())
        recovered = {a: h.quantity for a, h in second.safe.ledger.holdings.items()}
        assert recovered == sim.positions() == filled_by_journal(journal) == {"AAPL": 10, "MSFT": 1}
        open_ids = {cid for cid, o in second.safe._orders.items() if o.status.value == "pending"}
        assert (
            open_ids
            == {o["client_order_id"] for o in sim.open_orders()}
            == open_by_journal(journal)
            == {msft}
        )
        assert second.safe.ledger.cash == pytest.approx(sim.cash)
        sim.fill(msft, price=150.0)  # the recovered order is live: its fill reaches the new process
        await wait_until(
            lambda: second.safe.ledger.quantity("MSFT") == 4, what="fill of the recovered order"
        )
        new_order = await second.safe.submit_order("AAPL", 1)
        assert new_order.order_id not in {aapl, msft}  # ids continue from the persisted sequence
    finally:
        await second.safe.stop()


async def test_no_secret_reaches_logs_journal_state_or_errors(
    alpaca_sim_manual, compose, caplog, tmp_path
):
    sim = alpaca_sim_manual
    caplog.set_level(logging.DEBUG)
    sim.set_price("AAPL", 100.0)
    strategy = SubmitOnBar(
        [("AAPL", 10, {}), ("AAPL", 100_000, {})]
    )  # the second is refused by Alpaca
    runtime = compose(sim, strategy)
    task = await start(runtime, sim)
    sim.fail_next("/v2/orders", status=500, method="POST")
    sim.stream_bars(minute_bars(1))
    await wait_until(lambda: len(strategy.results) == 2, what="orders")
    sim.fill(strategy.results[0].order_id)
    sim.drop_trade_stream(refuse=1)
    await wait_until(
        lambda: runtime.safe.ledger.quantity("AAPL") == 10 and runtime.safe.connected,
        what="fill + reconnect",
    )
    await stop(runtime, task)
    texts = [r.getMessage() for r in caplog.records]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "state").rglob("*") if p.is_file()]
    texts += [o.rejection_reason or "" for o in runtime.safe.rejected]
    assert any("insufficient buying power" in t for t in texts)  # the error path did run
    assert any("DISCONNECTED" in t for t in texts)
    leaks = [t for t in texts if FAKE_KEY_ID in t or FAKE_SECRET in t]
    assert leaks == []
