"""AlpacaBroker order path against the simulator: submit, stream fills, order types, refusals."""

from __future__ import annotations

import pytest
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType

from ml4t_live_core.protocols import FillEvent, OrderStatusEvent

from .conftest import wait_until


def order(
    cid: str,
    qty: float = 10,
    side: OrderSide = OrderSide.BUY,
    kind: OrderType = OrderType.MARKET,
    **kw,
) -> Order:
    return Order(asset="AAPL", side=side, quantity=qty, order_type=kind, order_id=cid, **kw)


async def test_market_order_fill_arrives_through_the_stream(connected):
    broker, events, sim = connected
    sim.set_price("AAPL", 100.0)
    placed = await broker.submit_order(order("t-00000001"))
    assert placed.status is OrderStatus.PENDING
    assert [o["client_order_id"] for o in sim.orders()] == ["t-00000001"]
    sim.fill("t-00000001", price=101.5)
    await wait_until(lambda: events.of(FillEvent), what="the fill event")
    (fill_event,) = events.of(FillEvent)
    assert fill_event.fill.order_id == "t-00000001"
    assert (fill_event.fill.quantity, fill_event.fill.price, fill_event.order_complete) == (
        10,
        101.5,
        True,
    )
    assert fill_event.execution_id
    acks = [e for e in events.of(OrderStatusEvent) if e.status is OrderStatus.PENDING]
    assert acks and acks[0].broker_order_id == sim.orders()[0]["id"]


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        (OrderType.LIMIT, {"limit_price": 99.123}, {"type": "limit", "limit_price": "99.12"}),
        (OrderType.STOP, {"stop_price": 105.0}, {"type": "stop", "stop_price": "105.0"}),
        (
            OrderType.STOP_LIMIT,
            {"stop_price": 105.0, "limit_price": 106.0},
            {"type": "stop_limit", "stop_price": "105.0", "limit_price": "106.0"},
        ),
        (
            OrderType.TRAILING_STOP,
            {"trail_amount": 2.5},
            {"type": "trailing_stop", "trail_price": "2.5"},
        ),
        (OrderType.MOC, {}, {"type": "market", "time_in_force": "cls"}),
    ],
)
async def test_order_types_reach_alpaca_as_alpaca_types(connected, kind, fields, expected):
    broker, _, sim = connected
    sim.set_price("AAPL", 100.0)
    side = OrderSide.SELL if kind is OrderType.TRAILING_STOP else OrderSide.BUY
    placed = await broker.submit_order(order("t-00000011", side=side, kind=kind, **fields))
    assert placed.status is OrderStatus.PENDING
    (at_sim,) = sim.orders("t-00000011")
    assert {k: at_sim[k] for k in expected} == expected
    (open_order,) = await broker.get_open_orders()
    assert (open_order.order_id, open_order.order_type) == ("t-00000011", kind)


async def test_fractional_market_order_is_sent_fractional_stop_is_refused_locally(connected):
    broker, _, sim = connected
    sim.set_price("AAPL", 100.0)
    placed = await broker.submit_order(order("t-00000012", qty=0.25))
    assert placed.status is OrderStatus.PENDING and sim.orders("t-00000012")[0]["qty"] == "0.25"
    refused = await broker.submit_order(
        order("t-00000013", qty=1.5, kind=OrderType.STOP, stop_price=90.0)
    )
    assert refused.status is OrderStatus.REJECTED
    assert "fractional" in refused.rejection_reason and "stop" in refused.rejection_reason
    assert sim.orders("t-00000013") == []


async def test_refusal_by_alpaca_returns_a_rejected_order_with_alpacas_reason(connected):
    broker, _, sim = connected
    sim.set_price("AAPL", 100.0)
    refused = await broker.submit_order(order("t-00000014", qty=10_000))  # $1m > $100k cash
    assert refused.status is OrderStatus.REJECTED
    assert "insufficient buying power" in refused.rejection_reason
    assert sim.submissions("t-00000014") == ["insufficient buying power"]  # sent once, not retried


async def test_asynchronous_rejection_arrives_as_a_rejected_status(connected):
    broker, events, sim = connected
    sim.reject_next()
    await broker.submit_order(order("t-00000015"))
    await wait_until(
        lambda: any(e.status is OrderStatus.REJECTED for e in events.of(OrderStatusEvent)),
        what="rejection",
    )
    (event,) = [e for e in events.of(OrderStatusEvent) if e.status is OrderStatus.REJECTED]
    assert event.client_order_id == "t-00000015"


async def test_cancel_and_replace_keep_the_runtime_client_id(connected):
    broker, events, sim = connected
    sim.set_price("AAPL", 100.0)
    await broker.submit_order(order("t-00000016", kind=OrderType.LIMIT, limit_price=90.0))
    assert await broker.modify_order("t-00000016", limit_price=95.0, quantity=12)
    replacement = [o for o in sim.open_orders()]
    assert [(o["client_order_id"], o["limit_price"], o["qty"]) for o in replacement] == [
        ("t-00000016.r1", "95.0", "12.0")
    ]
    sim.partial_fill("t-00000016.r1", 2, price=95.0)
    await wait_until(lambda: events.of(FillEvent), what="fill of the replacement")
    assert events.of(FillEvent)[0].fill.order_id == "t-00000016"
    assert await broker.cancel_order("t-00000016")
    await wait_until(
        lambda: any(e.status is OrderStatus.CANCELLED for e in events.of(OrderStatusEvent)),
        what="cancel",
    )
    assert sim.open_orders() == []
    assert not await broker.cancel_order(
        "t-00000016"
    )  # already cancelled: Alpaca refuses, we report False


async def test_resting_limit_fills_when_the_price_crosses(alpaca_sim, make_broker):
    from .conftest import Recorder

    broker = make_broker(alpaca_sim)
    events = Recorder()
    broker.subscribe(events)
    await broker.connect()
    try:
        alpaca_sim.set_price("AAPL", 100.0)
        await broker.submit_order(order("t-00000017", kind=OrderType.LIMIT, limit_price=98.0))
        alpaca_sim.set_price("AAPL", 99.0)
        assert alpaca_sim.open_orders()
        alpaca_sim.set_price("AAPL", 97.5)
        await wait_until(lambda: events.of(FillEvent), what="limit fill")
        assert events.of(FillEvent)[0].fill.price == 97.5
        positions = await broker.get_positions()
        assert positions["AAPL"].quantity == 10
        account = await broker.get_account()
        assert account.cash == pytest.approx(100_000 - 975.0)
    finally:
        await broker.disconnect()


async def test_missing_credentials_name_the_variable(monkeypatch, alpaca_sim):
    from ml4t_live_alpaca import AlpacaBrokerConfig

    from ml4t_live_core.errors import ConfigError

    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.setenv("APCA_API_SECRET_KEY", "some-secret-value-xyz")
    from ml4t_live_alpaca import AlpacaBroker

    with pytest.raises(ConfigError, match="APCA_API_KEY_ID") as info:
        AlpacaBroker(AlpacaBrokerConfig(base_url=alpaca_sim.base_url))
    assert "some-secret-value-xyz" not in str(info.value)


async def test_expiry_and_broker_side_cancel_end_orders_as_cancelled_with_the_reason(connected):
    broker, events, sim = connected
    sim.set_price("AAPL", 100.0)
    await broker.submit_order(order("t-00000021", kind=OrderType.LIMIT, limit_price=90.0))
    await broker.submit_order(order("t-00000022", kind=OrderType.LIMIT, limit_price=91.0))
    sim.expire("t-00000021")  # a day order at the close
    sim.cancel("t-00000022")  # cancelled by Alpaca, not by us

    def ended() -> list[OrderStatusEvent]:
        return [e for e in events.of(OrderStatusEvent) if e.status is not OrderStatus.PENDING]

    await wait_until(lambda: len(ended()) == 2, what="both orders to end")
    assert [(e.client_order_id, e.status, e.reason) for e in ended()] == [
        ("t-00000021", OrderStatus.CANCELLED, "alpaca: expired"),
        ("t-00000022", OrderStatus.CANCELLED, "alpaca: canceled"),
    ]
    assert await broker.get_open_orders() == []


async def test_configured_time_in_force_reaches_alpaca(alpaca_sim_manual, make_broker):
    sim = alpaca_sim_manual
    broker = make_broker(sim, time_in_force="gtc")
    await broker.connect()
    try:
        sim.set_price("AAPL", 100.0)
        await broker.submit_order(order("t-00000023", kind=OrderType.LIMIT, limit_price=95.0))
        assert sim.orders("t-00000023")[0]["time_in_force"] == "gtc"
        refused = await broker.submit_order(order("t-00000024", qty=0.5))  # fractional needs "day"
        assert refused.status is OrderStatus.REJECTED and "'day'" in refused.rejection_reason
        assert sim.orders("t-00000024") == []
    finally:
        await broker.disconnect()


async def test_close_position_liquidates_through_alpaca(alpaca_sim, make_broker):
    from .conftest import Recorder

    broker = make_broker(alpaca_sim)
    events = Recorder()
    broker.subscribe(events)
    await broker.connect()
    try:
        alpaca_sim.set_price("AAPL", 100.0)
        await broker.submit_order(order("t-00000025", qty=7))
        await wait_until(lambda: alpaca_sim.positions() == {"AAPL": 7}, what="the buy to fill")
        closing = await broker.close_position("AAPL")
        assert closing is not None
        assert (closing.asset, closing.side, closing.quantity) == ("AAPL", OrderSide.SELL, 7)
        await wait_until(lambda: alpaca_sim.positions() == {}, what="the position to close")
        await wait_until(lambda: len(events.of(FillEvent)) == 2, what="the closing fill")
        assert events.of(FillEvent)[-1].fill.side is OrderSide.SELL
        assert await broker.get_positions() == {}
        assert await broker.close_position("MSFT") is None  # nothing held: nothing sent
    finally:
        await broker.disconnect()


def test_paper_by_default_live_only_on_purpose(alpaca_env, caplog):
    from alpaca.common.enums import BaseURL
    from ml4t_live_alpaca import AlpacaBroker, AlpacaBrokerConfig

    paper = AlpacaBroker(AlpacaBrokerConfig())
    assert paper._client._base_url == BaseURL.TRADING_PAPER
    assert paper._stream.url == BaseURL.TRADING_STREAM_PAPER.value
    assert not [r for r in caplog.records if "LIVE" in r.getMessage()]
    live = AlpacaBroker(AlpacaBrokerConfig(paper=False))
    assert live._client._base_url == BaseURL.TRADING_LIVE
    assert live._stream.url == BaseURL.TRADING_STREAM_LIVE.value
    assert any("LIVE trading endpoint" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"base_url": "https://api.alpaca.markets"}, "paper = true but base_url"),
        ({"stream_url": "wss://api.alpaca.markets/stream"}, "paper = true but stream_url"),
        ({"paper": False, "base_url": "https://paper-api.alpaca.markets"}, "paper = false"),
    ],
)
def test_an_url_override_cannot_switch_between_paper_and_live(settings, message):
    from ml4t_live_alpaca import AlpacaBrokerConfig
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        AlpacaBrokerConfig(**settings)


async def test_fill_of_a_replacement_that_overtakes_the_replace_answer_counts_once(connected):
    import asyncio

    broker, events, sim = connected
    sim.set_price("AAPL", 100.0)
    await broker.submit_order(order("t-00000026", kind=OrderType.LIMIT, limit_price=90.0))
    sim.delay_answer_next("/v2/orders/", 0.5, method="PATCH")
    modifying = asyncio.create_task(broker.modify_order("t-00000026", limit_price=95.0))
    await wait_until(lambda: [o["client_order_id"] for o in sim.open_orders()] == ["t-00000026.r1"],
                     what="the replacement at the simulator")
    sim.partial_fill("t-00000026.r1", 2, price=95.0)  # streamed before the replace answer arrives
    await wait_until(lambda: len(events.of(FillEvent)) == 1, what="the first partial fill")
    assert await modifying
    sim.partial_fill("t-00000026.r1", 3, price=94.0)
    await wait_until(lambda: len(events.of(FillEvent)) == 2, what="the second partial fill")
    assert [e.fill.quantity for e in events.of(FillEvent)] == [2, 3]
