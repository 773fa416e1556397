"""A process runs for weeks: finished orders are tracked for `finished_order_limit`, open ones
always, and a late update of a forgotten order neither adopts it again nor counts a fill."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import pytest
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType
from ml4t_live_alpaca import AlpacaBroker, AlpacaBrokerConfig
from ml4t_live_testing.alpaca import AlpacaSimulator
from pydantic import ValidationError

from ml4t_live_core.protocols import ConnectionEvent, FillEvent, OrderStatusEvent

from .conftest import Recorder, wait_until

LIMIT = 3


def buy(cid: str, qty: float = 10) -> Order:
    return Order(
        asset="AAPL", side=OrderSide.BUY, quantity=qty, order_type=OrderType.MARKET, order_id=cid
    )


@pytest.fixture
async def bounded(
    alpaca_sim_manual: AlpacaSimulator, make_broker: Callable[..., AlpacaBroker]
) -> AsyncIterator[tuple[AlpacaBroker, Recorder, AlpacaSimulator]]:
    broker = make_broker(alpaca_sim_manual, finished_order_limit=LIMIT)
    events = Recorder()
    broker.subscribe(events)
    await broker.connect()
    alpaca_sim_manual.set_price("AAPL", 100.0)
    try:
        yield broker, events, alpaca_sim_manual
    finally:
        await broker.disconnect()


def fills(events: Recorder) -> list[tuple[str, float]]:
    return [(e.fill.order_id, e.fill.quantity) for e in events.of(FillEvent)]


async def fill_orders(broker: AlpacaBroker, events: Recorder, sim: AlpacaSimulator, count: int):
    cids = [f"b-{i:04d}" for i in range(count)]
    for cid in cids:
        await broker.submit_order(buy(cid))
        sim.fill(cid)
    await wait_until(lambda: len(events.of(FillEvent)) >= count, what="every fill")
    return cids


async def a_later_fill(broker: AlpacaBroker, events: Recorder, sim: AlpacaSimulator, cid: str):
    """Updates arrive in order: once a later order's fill is in, the earlier update was handled."""
    await broker.submit_order(buy(cid, qty=1))
    sim.fill(cid)
    await wait_until(lambda: (cid, 1) in fills(events), what=f"fill of {cid}")


async def test_finished_orders_beyond_the_limit_are_forgotten_open_ones_kept(bounded):
    broker, events, sim = bounded
    await broker.submit_order(buy("a-open", qty=6))
    cids = await fill_orders(broker, events, sim, 4 * LIMIT)
    assert fills(events) == [(cid, 10) for cid in cids]
    assert broker._tracks.sizes() == {
        "tracks": LIMIT + 1,
        "finished": LIMIT,
        "alpaca_ids": LIMIT + 1,
        "fill_records": LIMIT,
        "forgotten": LIMIT,
    }
    sim.partial_fill("a-open", 2)  # older than every finished order, still tracked
    sim.fill("a-open")
    await wait_until(lambda: len(events.of(FillEvent)) == 4 * LIMIT + 2, what="open order fills")
    assert fills(events)[-2:] == [("a-open", 2), ("a-open", 4)]
    assert events.of(FillEvent)[-1].order_complete
    assert broker._tracks.sizes()["tracks"] == LIMIT


async def test_repeated_update_of_a_recently_finished_order_is_ignored(bounded):
    broker, events, sim = bounded
    cids = await fill_orders(broker, events, sim, LIMIT)
    sim.resend_update(cids[0], "fill")  # new execution id, same cumulative quantity
    sim.duplicate_next_fill()
    await a_later_fill(broker, events, sim, "later")
    assert fills(events) == [*((cid, 10) for cid in cids), ("later", 1)]


async def test_late_update_of_a_forgotten_order_is_dropped_and_logged(bounded, caplog):
    broker, events, sim = bounded
    await fill_orders(broker, events, sim, 2 * LIMIT)
    assert broker._tracks.forgotten("b-0000")
    statuses = len(events.of(OrderStatusEvent))
    with caplog.at_level(logging.INFO, logger="ml4t_live.alpaca"):
        sim.resend_update("b-0000", "fill")
        sim.resend_update("b-0000", "canceled")
        await a_later_fill(broker, events, sim, "later")
    assert fills(events)[-2:] == [("b-0005", 10), ("later", 1)]  # no second fill of b-0000
    assert len(events.of(OrderStatusEvent)) == statuses + 1  # only "later"'s acknowledgement
    assert broker._tracks.get("b-0000") is None
    assert "late fill update for finished order b-0000 ignored" in caplog.text
    assert "late canceled update for finished order b-0000 ignored" in caplog.text


async def test_reconnect_after_many_orders_replays_nothing_and_stays_bounded(bounded):
    broker, events, sim = bounded
    await broker.submit_order(buy("a-open", qty=6))
    await fill_orders(broker, events, sim, 3 * LIMIT)
    before = fills(events)
    sim.drop_trade_stream()
    await wait_until(
        lambda: (
            sum(e.connected for e in events.of(ConnectionEvent)) >= 1
            and broker.is_connected
            and broker._stream.sessions >= 2
        ),
        what="reconnect",
    )
    sim.fill("a-open")
    await wait_until(lambda: len(events.of(FillEvent)) > len(before), what="open order fill")
    assert fills(events) == [*before, ("a-open", 6)]
    assert broker._tracks.sizes()["tracks"] == LIMIT


async def test_a_forgotten_order_id_is_never_sent_again(bounded):
    broker, events, sim = bounded
    await fill_orders(broker, events, sim, 2 * LIMIT)
    again = await broker.submit_order(buy("b-0000"))
    assert again.status is OrderStatus.REJECTED
    assert "already used" in (again.rejection_reason or "")
    assert len(sim.submissions("b-0000")) == 1


def test_finished_order_limit_must_be_a_positive_integer():
    with pytest.raises(ValidationError, match="finished_order_limit"):
        AlpacaBrokerConfig(finished_order_limit=0)
    with pytest.raises(ValidationError, match="finished_order_limit"):
        AlpacaBrokerConfig(finished_order_limit="10")  # type: ignore[arg-type]
    assert AlpacaBrokerConfig().finished_order_limit == 10_000
