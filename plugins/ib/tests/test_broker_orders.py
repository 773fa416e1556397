"""IBBroker against the gateway simulator with the real ib_async: sync, orders, fills, errors."""

from __future__ import annotations

import pytest
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType
from ml4t_live_ib.broker import IBBroker

from ml4t_live_core.protocols import AccountEvent, FillEvent, OrderStatusEvent

from .conftest import events_of, fast_config, settle, wait_until


def make(
    order_id: str,
    asset: str = "AAPL",
    qty: float = 100,
    side: OrderSide = OrderSide.BUY,
    order_type: OrderType = OrderType.MARKET,
    **prices,
) -> Order:
    return Order(
        asset=asset, side=side, quantity=qty, order_type=order_type, order_id=order_id, **prices
    )


async def test_positions_and_account_match_the_gateway(ib_gateway, ib_broker):
    ib_gateway.add_position("MSFT", 25, 400.0)
    await ib_broker.disconnect()
    await ib_broker.connect()
    positions = await ib_broker.get_positions()
    assert set(positions) == {"MSFT"}
    assert (positions["MSFT"].quantity, positions["MSFT"].entry_price) == (25.0, 400.0)
    account = await ib_broker.get_account()
    assert account.cash == ib_gateway.book.cash
    assert account.equity == ib_gateway.book.net_liquidation()
    assert account.buying_power == ib_gateway.book.account_values()["BuyingPower"]


async def test_account_event_after_a_fill_carries_the_cash_after_it(ib_gateway, ib_broker):
    ib_gateway.book.prices[ib_gateway.contracts.by_symbol("AAPL").con_id] = 190.0
    ib_gateway.auto_fill_market = True
    before = ib_gateway.book.cash
    await ib_broker.submit_order(make("c-cash"))
    await wait_until(lambda: events_of(ib_broker, FillEvent))
    await settle(ib_broker)
    last = events_of(ib_broker, AccountEvent)[-1].snapshot
    assert ib_gateway.book.cash < before - 100 * 190.0 + 1e-9  # the fill and its commission
    assert (last.cash, last.equity) == (ib_gateway.book.cash, ib_gateway.book.net_liquidation())


async def test_account_values_are_the_configured_currencys(ib_gateway):
    # a multi-currency account reports the same tags again per currency and as "BASE"
    ib_gateway.book.other_currency_values = {
        ("TotalCashValue", "EUR"): 5_000.0,
        ("NetLiquidation", "EUR"): 5_000.0,
        ("TotalCashValue", "BASE"): 1.0,
        ("NetLiquidation", "BASE"): 2.0,
        ("BuyingPower", "BASE"): 3.0,
    }
    broker = IBBroker(fast_config(ib_gateway.port))
    await broker.connect()
    try:
        account = await broker.get_account()
        values = ib_gateway.book.account_values()
        assert (account.cash, account.equity, account.buying_power, account.currency) == (
            values["TotalCashValue"],
            values["NetLiquidation"],
            values["BuyingPower"],
            "USD",
        )
    finally:
        await broker.disconnect()


async def test_market_order_acknowledged_then_filled(ib_gateway, ib_broker):
    result = await ib_broker.submit_order(make("c-1"))
    assert result.status is OrderStatus.PENDING
    sent = ib_gateway.order("c-1")
    assert (sent.order_type, sent.action, sent.quantity, sent.order_ref) == (
        "MKT",
        "BUY",
        100.0,
        "c-1",
    )
    ib_gateway.fill("c-1", price=190.0)
    await settle(ib_broker)
    [fill_event] = events_of(ib_broker, FillEvent)
    assert fill_event.order_complete
    fill = fill_event.fill
    assert (fill.order_id, fill.asset, fill.side, fill.quantity, fill.price) == (
        "c-1",
        "AAPL",
        OrderSide.BUY,
        100.0,
        190.0,
    )
    assert fill.commission == pytest.approx(1.0)
    assert (await ib_broker.get_positions())["AAPL"].quantity == 100.0
    assert (await ib_broker.get_account()).cash == pytest.approx(ib_gateway.book.cash)
    assert await ib_broker.get_open_orders() == []


async def test_partial_fills_then_limit_crossed(ib_gateway, ib_broker):
    await ib_broker.submit_order(
        make("c-2", qty=100, order_type=OrderType.LIMIT, limit_price=101.5)
    )
    ib_gateway.fill("c-2", 40, price=101.0)
    await settle(ib_broker)
    [first] = events_of(ib_broker, FillEvent)
    assert (first.fill.quantity, first.order_complete) == (40.0, False)
    [still_open] = await ib_broker.get_open_orders()
    assert still_open.filled_quantity == 40.0
    ib_gateway.set_price("AAPL", 102.0)  # above the buy limit: holds
    await settle(ib_broker)
    assert len(events_of(ib_broker, FillEvent)) == 1
    ib_gateway.set_price("AAPL", 101.2)  # crosses
    await settle(ib_broker)
    second = events_of(ib_broker, FillEvent)[1]
    assert (second.fill.quantity, second.fill.price, second.order_complete) == (60.0, 101.2, True)


@pytest.mark.parametrize(
    ("order_type", "prices", "ib_type", "lmt", "aux"),
    [
        (OrderType.LIMIT, {"limit_price": 150.0}, "LMT", 150.0, None),
        (OrderType.STOP, {"stop_price": 140.0}, "STP", None, 140.0),
        (
            OrderType.STOP_LIMIT,
            {"stop_price": 140.0, "limit_price": 139.5},
            "STP LMT",
            139.5,
            140.0,
        ),
        (OrderType.TRAILING_STOP, {"trail_amount": 2.5}, "TRAIL", None, 2.5),
    ],
)
async def test_each_order_type_reaches_ib(
    ib_gateway, ib_broker, order_type, prices, ib_type, lmt, aux
):
    result = await ib_broker.submit_order(
        make("t-1", side=OrderSide.SELL, order_type=order_type, **prices)
    )
    assert result.status is OrderStatus.PENDING
    sent = ib_gateway.order("t-1")
    assert (sent.order_type, sent.action, sent.lmt_price, sent.aux_price, sent.status) == (
        ib_type,
        "SELL",
        lmt,
        aux,
        "Submitted",
    )


async def test_stop_and_trailing_stop_fill_when_triggered(ib_gateway, ib_broker):
    ib_gateway.set_price("AAPL", 150.0)
    await ib_broker.submit_order(
        make("stop", side=OrderSide.SELL, order_type=OrderType.STOP, stop_price=145.0)
    )
    await ib_broker.submit_order(
        make("trail", side=OrderSide.SELL, order_type=OrderType.TRAILING_STOP, trail_amount=3.0)
    )
    ib_gateway.set_price("AAPL", 152.0)  # raises the trail anchor to 152 -> stop at 149
    ib_gateway.set_price("AAPL", 149.0)
    await settle(ib_broker)
    assert [e.fill.order_id for e in events_of(ib_broker, FillEvent)] == ["trail"]
    ib_gateway.set_price("AAPL", 144.0)
    await settle(ib_broker)
    assert [e.fill.order_id for e in events_of(ib_broker, FillEvent)] == ["trail", "stop"]


async def test_stop_limit_works_as_a_limit_once_its_stop_triggered(ib_gateway, ib_broker):
    ib_gateway.set_price("AAPL", 150.0)
    await ib_broker.submit_order(
        make(
            "stp-lmt",
            qty=10,
            side=OrderSide.SELL,
            order_type=OrderType.STOP_LIMIT,
            stop_price=140.0,
            limit_price=139.5,
        )
    )
    ib_gateway.set_price("AAPL", 139.0)  # the stop triggers; below the sell limit: no fill
    await settle(ib_broker)
    assert events_of(ib_broker, FillEvent) == []
    ib_gateway.set_price("AAPL", 141.0)  # above the stop again, but the limit is now working
    await settle(ib_broker)
    [fill] = events_of(ib_broker, FillEvent)
    assert (fill.fill.quantity, fill.fill.price, fill.order_complete) == (10.0, 141.0, True)
    assert (await ib_broker.get_positions())["AAPL"].quantity == -10.0


async def test_cancel_reports_cancelled(ib_gateway, ib_broker):
    await ib_broker.submit_order(make("c-3", order_type=OrderType.LIMIT, limit_price=50.0))
    assert await ib_broker.cancel_order("c-3")
    await settle(ib_broker)
    assert ib_gateway.order("c-3").status == "Cancelled"
    final = [
        e for e in events_of(ib_broker, OrderStatusEvent) if e.status is not OrderStatus.PENDING
    ]
    assert [(e.client_order_id, e.status) for e in final] == [("c-3", OrderStatus.CANCELLED)]
    assert await ib_broker.get_open_orders() == []
    assert not await ib_broker.cancel_order("c-3")  # nothing left to cancel


async def test_modify_changes_the_working_order(ib_gateway, ib_broker):
    await ib_broker.submit_order(make("c-4", order_type=OrderType.LIMIT, limit_price=50.0))
    assert await ib_broker.modify_order("c-4", limit_price=55.0, quantity=80)
    await settle(ib_broker)
    sent = ib_gateway.order("c-4")
    assert (sent.lmt_price, sent.quantity) == (55.0, 80.0)
    assert [p.modify for p in ib_gateway.placed] == [False, True]
    ib_gateway.set_price("AAPL", 54.0)
    await settle(ib_broker)
    [fill] = events_of(ib_broker, FillEvent)
    assert (fill.fill.quantity, fill.fill.price, fill.order_complete) == (80.0, 54.0, True)


async def test_modify_rejects_bad_values(ib_broker):
    await ib_broker.submit_order(make("c-5", order_type=OrderType.LIMIT, limit_price=50.0))
    with pytest.raises(ValueError, match="limit_price must be positive"):
        await ib_broker.modify_order("c-5", limit_price=float("nan"))
    with pytest.raises(ValueError, match="cannot modify"):
        await ib_broker.modify_order("c-5", side=1.0)


async def test_error_201_is_a_rejection_with_ib_reason(ib_gateway, ib_broker):
    ib_gateway.reject_next(201, "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. MARGIN")
    result = await ib_broker.submit_order(make("c-6"))
    assert result.status is OrderStatus.REJECTED
    assert "201" in result.rejection_reason and "MARGIN" in result.rejection_reason
    [event] = [
        e for e in events_of(ib_broker, OrderStatusEvent) if e.status is OrderStatus.REJECTED
    ]
    assert event.client_order_id == "c-6" and "MARGIN" in event.reason


async def test_unknown_asset_is_rejected_before_anything_is_sent(ib_gateway, ib_broker):
    result = await ib_broker.submit_order(make("c-7", asset="NOPE"))
    assert result.status is OrderStatus.REJECTED
    assert "NOPE" in result.rejection_reason
    assert ib_gateway.placed == []


async def test_same_client_order_id_is_never_sent_twice(ib_gateway, ib_broker):
    first = await ib_broker.submit_order(make("c-8"))
    again = await ib_broker.submit_order(make("c-8"))
    assert first.order_id == again.order_id == "c-8"
    assert len(ib_gateway.placed) == 1


async def test_bracket_is_parent_and_two_ib_child_orders(ib_gateway, ib_broker):
    entry = make("b-1", qty=10)
    take_profit = make(
        "b-1-tp",
        qty=10,
        side=OrderSide.SELL,
        order_type=OrderType.LIMIT,
        limit_price=110.0,
        parent_id="b-1",
    )
    stop_loss = make(
        "b-1-sl",
        qty=10,
        side=OrderSide.SELL,
        order_type=OrderType.STOP,
        stop_price=90.0,
        parent_id="b-1",
    )
    results = await ib_broker.submit_bracket(entry, take_profit, stop_loss)
    assert [o.status for o in results] == [OrderStatus.PENDING] * 3
    parent, tp, sl = (ib_gateway.order(ref) for ref in ("b-1", "b-1-tp", "b-1-sl"))
    assert tp.parent_id == sl.parent_id == parent.order_id
    assert (parent.transmit, tp.transmit, sl.transmit) == (False, False, True)
    assert (parent.status, tp.status, sl.status) == ("Submitted", "PreSubmitted", "PreSubmitted")

    ib_gateway.set_price("AAPL", 111.0)  # children wait for the entry: nothing fills
    await settle(ib_broker)
    assert events_of(ib_broker, FillEvent) == []

    ib_gateway.fill("b-1", price=100.0)
    assert (tp.status, sl.status) == ("Submitted", "Submitted")
    ib_gateway.set_price("AAPL", 110.5)
    await settle(ib_broker)
    assert [e.fill.order_id for e in events_of(ib_broker, FillEvent)] == ["b-1", "b-1-tp"]
    cancelled = [
        e.client_order_id
        for e in events_of(ib_broker, OrderStatusEvent)
        if e.status is OrderStatus.CANCELLED
    ]
    assert cancelled == ["b-1-sl"]  # one-cancels-other
    assert (await ib_broker.get_positions()) == {}
    assert await ib_broker.get_open_orders() == []


async def test_close_position_sends_the_opposite_market_order(ib_gateway, ib_broker):
    ib_gateway.add_position("MSFT", -20, 400.0)
    await ib_broker.disconnect()
    await ib_broker.connect()
    order = await ib_broker.close_position("MSFT")
    assert (order.side, order.quantity, order.order_type) == (OrderSide.BUY, 20.0, OrderType.MARKET)
    sent = ib_gateway.order(order.order_id)
    assert (sent.action, sent.quantity) == ("BUY", 20.0)
    assert await ib_broker.close_position("AAPL") is None


async def test_ib_side_cancel_of_a_working_order_is_cancelled_with_reason(ib_gateway, ib_broker):
    await ib_broker.submit_order(make("c-9", order_type=OrderType.LIMIT, limit_price=50.0))
    ib_gateway.cancel("c-9", "DAY order expired")
    await settle(ib_broker)
    [event] = [
        e for e in events_of(ib_broker, OrderStatusEvent) if e.status is not OrderStatus.PENDING
    ]
    assert (event.client_order_id, event.status) == ("c-9", OrderStatus.CANCELLED)
    assert "202" in event.reason and "DAY order expired" in event.reason


async def test_refused_modification_keeps_the_original_order_working(ib_gateway, ib_broker):
    await ib_broker.submit_order(make("c-10", order_type=OrderType.LIMIT, limit_price=50.0))
    ib_gateway.reject_next_modify(201, "Order rejected - reason:price outside band")
    assert await ib_broker.modify_order("c-10", limit_price=70.0)
    await settle(ib_broker)
    assert [
        e for e in events_of(ib_broker, OrderStatusEvent) if e.status is not OrderStatus.PENDING
    ] == []
    [still] = await ib_broker.get_open_orders()
    assert (still.order_id, still.limit_price) == ("c-10", 50.0)  # the record IB still works
    assert ib_gateway.order("c-10").lmt_price == 50.0
    ib_gateway.set_price("AAPL", 49.0)  # the original order still fills ...
    await settle(ib_broker)
    [fill] = events_of(ib_broker, FillEvent)
    assert (fill.fill.order_id, fill.fill.price, fill.order_complete) == ("c-10", 49.0, True)


async def test_order_whose_modification_was_refused_can_still_be_cancelled(ib_gateway, ib_broker):
    await ib_broker.submit_order(make("c-11", order_type=OrderType.LIMIT, limit_price=50.0))
    ib_gateway.reject_next_modify()
    await ib_broker.modify_order("c-11", quantity=10)
    await settle(ib_broker)
    assert await ib_broker.cancel_order("c-11")
    await settle(ib_broker)
    assert ib_gateway.order("c-11").status == "Cancelled"
    [event] = [
        e for e in events_of(ib_broker, OrderStatusEvent) if e.status is not OrderStatus.PENDING
    ]
    assert (event.client_order_id, event.status) == ("c-11", OrderStatus.CANCELLED)


async def test_inactive_status_is_a_rejection(ib_gateway, ib_broker):
    await ib_broker.submit_order(make("c-12", order_type=OrderType.LIMIT, limit_price=50.0))
    ib_gateway.deactivate("c-12")
    await settle(ib_broker)
    [event] = [
        e for e in events_of(ib_broker, OrderStatusEvent) if e.status is not OrderStatus.PENDING
    ]
    assert (event.client_order_id, event.status, event.reason) == (
        "c-12",
        OrderStatus.REJECTED,
        "IB reports the order Inactive",
    )
    assert await ib_broker.get_open_orders() == []


def test_broker_and_feed_satisfy_the_core_protocols():
    from ml4t_live_ib.config import IBFeedConfig
    from ml4t_live_ib.feed import IBDataFeed

    from ml4t_live_core.protocols import BrokerAdapter, DataFeed

    assert isinstance(IBBroker(), BrokerAdapter)
    feed = IBDataFeed(IBFeedConfig(assets=["AAPL"]))
    assert isinstance(feed, DataFeed) and feed.realtime
    assert callable(getattr(feed, "history", None))  # the WarmupFeed extension
    assert callable(getattr(IBBroker, "submit_bracket", None))


async def test_fill_without_commission_report_is_still_reported(ib_gateway):
    broker = IBBroker(fast_config(ib_gateway.port, commission_timeout=0.05))
    seen = []
    broker.subscribe(seen.append)
    await broker.connect()
    try:
        ib_gateway.withhold_commissions = True
        await broker.submit_order(make("c-13", qty=5))
        ib_gateway.fill("c-13", price=100.0)
        await wait_until(lambda: any(isinstance(e, FillEvent) for e in seen), timeout=2)
        [fill] = [e for e in seen if isinstance(e, FillEvent)]
        assert (fill.fill.quantity, fill.fill.commission, fill.order_complete) == (5.0, 0.0, True)
    finally:
        await broker.disconnect()


async def test_cancel_after_an_earlier_warning_is_still_reported(ib_gateway, ib_broker):
    await ib_broker.submit_order(make("c-14", order_type=OrderType.LIMIT, limit_price=50.0))
    order_id = ib_gateway.order("c-14").order_id
    ib_gateway.emit_error(
        399, "Order message error: will not be placed until market opens", order_id
    )
    await settle(ib_broker)
    ib_gateway.cancel("c-14", with_error=False)  # IB cancels with a bare status, no 202
    await settle(ib_broker)
    final = [
        e for e in events_of(ib_broker, OrderStatusEvent) if e.status is not OrderStatus.PENDING
    ]
    assert [(e.client_order_id, e.status) for e in final] == [("c-14", OrderStatus.CANCELLED)]
