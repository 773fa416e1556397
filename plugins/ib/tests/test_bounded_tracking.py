"""A process runs for weeks: finished orders are kept for `finished_order_limit`, open ones
always, and late or replayed events of a forgotten order change nothing."""

from __future__ import annotations

import logging

import pytest
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType
from ml4t_live_ib.broker import IBBroker
from ml4t_live_ib.config import IBConfig
from pydantic import ValidationError

from ml4t_live_core.clock import ManualClock
from ml4t_live_core.protocols import FillEvent, OrderStatusEvent

from .conftest import events_of, fast_config, reconnected, settle, wait_until

LIMIT = 3


def market(order_id: str, qty: float = 10) -> Order:
    return Order(asset="AAPL", side=OrderSide.BUY, quantity=qty, order_id=order_id)


def resting(order_id: str) -> Order:
    return Order(
        asset="AAPL",
        side=OrderSide.BUY,
        quantity=5,
        order_type=OrderType.LIMIT,
        limit_price=90.0,
        order_id=order_id,
    )


@pytest.fixture
async def broker(ib_gateway):
    broker = IBBroker(fast_config(ib_gateway.port, finished_order_limit=LIMIT), clock=ManualClock())
    broker.events = []  # type: ignore[attr-defined]
    broker.subscribe(broker.events.append)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.disconnect()


async def finish_market_orders(ib_gateway, broker: IBBroker, count: int) -> list[str]:
    refs = [f"m-{i}" for i in range(count)]
    for ref in refs:
        await broker.submit_order(market(ref))
        ib_gateway.fill(ref, price=100.0)
    await settle(broker)
    return refs


def fill_ids(broker: IBBroker) -> list[str]:
    return [e.fill.order_id for e in events_of(broker, FillEvent)]


async def test_finished_orders_beyond_the_limit_are_forgotten_open_ones_kept(ib_gateway, broker):
    await broker.submit_order(resting("old-open"))
    refs = await finish_market_orders(ib_gateway, broker, 4 * LIMIT)
    assert fill_ids(broker) == refs
    sizes = broker.tracker.sizes()
    assert sizes["finished"] == LIMIT
    assert sizes["orders"] == sizes["trades"] == LIMIT + 1  # the open order is kept
    assert sizes["execution_ids"] == LIMIT
    assert sizes["order_ids"] == LIMIT + 1
    assert sizes["forgotten"] == LIMIT
    # ib_async's own copies are bounded too
    assert len(broker.ib.wrapper.fills) == LIMIT
    assert len(broker.ib.wrapper.permId2Trade) == LIMIT + 1
    assert broker.tracker.known("m-0") is None and broker.tracker.known(refs[-1]) is not None
    # the open order, older than every finished one, still fills
    ib_gateway.set_price("AAPL", 89.0)
    await settle(broker)
    last = events_of(broker, FillEvent)[-1]
    assert (last.fill.order_id, last.fill.quantity, last.order_complete) == ("old-open", 5, True)
    assert broker.tracker.sizes()["finished"] == LIMIT
    assert await broker.get_open_orders() == []


async def test_duplicate_execution_of_a_recently_finished_order_is_ignored(ib_gateway, broker):
    refs = await finish_market_orders(ib_gateway, broker, 2)
    ib_gateway.repeat_last_execution(refs[-1])
    await settle(broker)
    assert fill_ids(broker) == refs


async def test_late_execution_and_status_of_a_forgotten_order_change_nothing(ib_gateway, broker):
    refs = await finish_market_orders(ib_gateway, broker, 2 * LIMIT)
    assert broker.tracker.forgotten("m-0")
    statuses_before = events_of(broker, OrderStatusEvent)
    ib_gateway.repeat_last_execution("m-0")  # details, Filled status and commission again
    await settle(broker)
    assert events_of(broker, OrderStatusEvent) == statuses_before
    assert broker.tracker.known("m-0") is None
    assert await broker.get_open_orders() == []
    assert fill_ids(broker) == refs


async def test_replayed_executions_after_1102_count_once_and_stay_bounded(ib_gateway, broker):
    await broker.submit_order(resting("old-open"))
    ib_gateway.fill("old-open", 2, price=90.0)  # partly filled, still working
    refs = await finish_market_orders(ib_gateway, broker, 3 * LIMIT)
    before = fill_ids(broker)
    ib_gateway.emit_error(1102, "Connectivity restored - data maintained.")
    await wait_until(reconnected(broker))
    assert fill_ids(broker) == before == ["old-open", *refs]
    assert len(broker.ib.wrapper.fills) == LIMIT + 1  # reqExecutions re-sent every one
    [still_open] = await broker.get_open_orders()
    assert (still_open.order_id, still_open.filled_quantity) == ("old-open", 2.0)
    ib_gateway.set_price("AAPL", 89.0)
    await settle(broker)
    last = events_of(broker, FillEvent)[-1]
    assert (last.fill.order_id, last.fill.quantity, last.order_complete) == ("old-open", 3, True)


async def test_gateway_restart_replays_forgotten_orders_without_adopting_them(
    ib_gateway, broker, caplog
):
    refs = await finish_market_orders(ib_gateway, broker, 2 * LIMIT)
    statuses_before = len(events_of(broker, OrderStatusEvent))
    with caplog.at_level(logging.INFO, logger="ml4t_live_ib.tracking"):
        await ib_gateway.restart()
        await wait_until(reconnected(broker))
    assert fill_ids(broker) == refs
    assert len(events_of(broker, OrderStatusEvent)) == statuses_before
    assert await broker.get_open_orders() == []
    assert broker.tracker.sizes()["orders"] == LIMIT
    assert f"{LIMIT} replayed executions of finished" in caplog.text


async def test_a_forgotten_order_id_is_never_sent_again(ib_gateway, broker):
    await finish_market_orders(ib_gateway, broker, 2 * LIMIT)
    again = await broker.submit_order(market("m-0"))
    assert again.status is OrderStatus.REJECTED
    assert "already used" in (again.rejection_reason or "")
    assert [p.order_ref for p in ib_gateway.placed].count("m-0") == 1


def test_finished_order_limit_must_be_a_positive_integer():
    with pytest.raises(ValidationError, match="finished_order_limit"):
        IBConfig(finished_order_limit=0)
    with pytest.raises(ValidationError, match="finished_order_limit"):
        IBConfig(finished_order_limit="10")  # type: ignore[arg-type]
    assert IBConfig().finished_order_limit == 10_000
