"""The sim broker: ml4t-backtest's fill rules, reported as broker events, with bounded history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ml4t.backtest import Order, OrderSide, OrderStatus, OrderType
from ml4t.backtest.config import (
    CommissionType,
    ExecutionMode,
    ExecutionPrice,
    ShareType,
    SlippageType,
)
from ml4t_live_sim import SimBroker, SimBrokerConfig
from pydantic import ValidationError

from ml4t_live_core.protocols import FillEvent, OrderStatusEvent

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def bar(o: float, h: float, low: float, c: float) -> dict[str, float]:
    return {"open": o, "high": h, "low": low, "close": c, "volume": 1_000.0}


class Recorder:
    def __init__(self, broker: SimBroker) -> None:
        self.events: list = []
        broker.subscribe(self.events.append)

    def fills(self) -> list:
        return [e.fill for e in self.events if isinstance(e, FillEvent)]

    def statuses(self, status: OrderStatus) -> list[OrderStatusEvent]:
        return [e for e in self.events if isinstance(e, OrderStatusEvent) and e.status is status]


async def make(**settings) -> tuple[SimBroker, Recorder]:  # type: ignore[no-untyped-def]
    broker = SimBroker(SimBrokerConfig(**settings))
    await broker.connect()
    return broker, Recorder(broker)


def order(
    oid: str,
    qty: float,
    side: OrderSide = OrderSide.BUY,
    kind: OrderType = OrderType.MARKET,
    **prices,
) -> Order:  # type: ignore[no-untyped-def]
    return Order("XYZ", side, qty, kind, order_id=oid, **prices)


# --- configuration --------------------------------------------------------------------------
def test_fill_timing_maps_to_the_backtest_execution_mode_and_price():
    nxt, close = (
        SimBrokerConfig().backtest_config(),
        SimBrokerConfig(fill_timing="close").backtest_config(),
    )
    assert (nxt.execution_mode, nxt.execution_price) == (
        ExecutionMode.NEXT_BAR,
        ExecutionPrice.OPEN,
    )
    assert (close.execution_mode, close.execution_price) == (
        ExecutionMode.SAME_BAR,
        ExecutionPrice.CLOSE,
    )


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({}, CommissionType.NONE),
        ({"commission_per_share": 0.01}, CommissionType.PER_SHARE),
        ({"commission_per_share": 0.01, "min_commission": 1.0}, CommissionType.PER_SHARE),
        ({"commission_pct": 0.001}, CommissionType.PERCENTAGE),
        ({"commission_pct": 0.001, "min_commission": 1.0}, CommissionType.PER_ORDER),
        ({"commission_pct": 0.001, "commission_per_share": 0.01}, CommissionType.PER_ORDER),
    ],
)
def test_commission_settings_map_to_a_backtest_model(settings, expected):
    assert SimBrokerConfig(**settings).backtest_config().commission_type is expected


def test_costs_shorting_shares_and_multipliers_reach_the_backtest_config():
    cfg = SimBrokerConfig(
        slippage_bps=5, allow_short=False, share_type="fractional", multipliers={"ES": 50.0}
    )
    bt = cfg.backtest_config()
    assert bt.slippage_type is SlippageType.PERCENTAGE and bt.slippage_rate == pytest.approx(0.0005)
    assert bt.allow_short_selling is False and bt.share_type is ShareType.FRACTIONAL
    assert cfg.contract_specs()["ES"].multiplier == 50.0


@pytest.mark.parametrize(
    "settings",
    [
        {"commission_per_share": -0.01},
        {"initial_cash": float("nan")},
        {"initial_cash": 0},
        {"slippage_bps": float("inf")},
        {"fill_timing": "open"},
        {"multipliers": {"ES": 0}},
        {"comission_pct": 0.1},
        {"max_volume_participation": 0},
        {"max_volume_participation": 1.5},
    ],
)
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValidationError):
        SimBrokerConfig(**settings)


# --- fills ------------------------------------------------------------------------------------
async def test_volume_participation_fills_in_parts_and_modify_takes_the_new_total():
    broker, seen = await make(max_volume_participation=0.1)  # 100 of a 1,000-share bar
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100.5)})
    await broker.submit_order(order("c0", 250))
    await broker.on_bar(T0 + timedelta(minutes=1), {"XYZ": bar(102, 103, 101, 102.5)})
    assert [f.quantity for f in seen.fills()] == [100.0]
    # the protocol's quantity is the total: 130 in all, so 30 more to the backtest broker
    assert await broker.modify_order("c0", quantity=130)
    await broker.on_bar(T0 + timedelta(minutes=2), {"XYZ": bar(102, 103, 101, 102.5)})
    await broker.on_bar(T0 + timedelta(minutes=3), {"XYZ": bar(102, 103, 101, 102.5)})
    assert [f.quantity for f in seen.fills()] == [100.0, 30.0]
    assert (await broker.get_positions())["XYZ"].quantity == 130
    assert await broker.get_open_orders() == []


async def test_market_order_fills_at_the_next_open_with_slippage_and_commission():
    broker, seen = await make(commission_per_share=0.01, slippage_bps=10)
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100.5)})
    result = await broker.submit_order(order("c1", 10))
    assert result.status is OrderStatus.PENDING and seen.fills() == []
    await broker.on_bar(T0 + timedelta(minutes=1), {"XYZ": bar(102, 103, 101, 102.5)})
    [fill] = seen.fills()
    assert fill.order_id == "c1" and fill.timestamp == T0 + timedelta(minutes=1)
    assert fill.price == pytest.approx(102 * 1.001) and fill.commission == pytest.approx(0.1)
    assert (await broker.get_positions())["XYZ"].quantity == 10
    assert (await broker.get_account()).cash == pytest.approx(100_000 - 10 * 102 * 1.001 - 0.1)


async def test_close_timing_fills_the_bars_orders_at_its_close_when_the_bar_ends():
    broker, seen = await make(fill_timing="close")
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100.5)})
    await broker.submit_order(order("c1", 10))
    assert seen.fills() == []  # like the backtest: after the strategy's callback, not during it
    await broker.flush()
    [fill] = seen.fills()
    assert (fill.price, fill.timestamp) == (100.5, T0)


async def test_limit_fills_at_the_limit_when_the_bar_trades_through_it():
    broker, seen = await make()
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100)})
    await broker.submit_order(order("c1", 5, kind=OrderType.LIMIT, limit_price=98.0))
    await broker.on_bar(T0 + timedelta(minutes=1), {"XYZ": bar(100, 100.5, 98.5, 99)})
    assert seen.fills() == []
    await broker.on_bar(T0 + timedelta(minutes=2), {"XYZ": bar(99, 99.5, 97.0, 97.5)})
    [fill] = seen.fills()
    assert fill.price == 98.0 and fill.timestamp == T0 + timedelta(minutes=2)


async def test_stop_fills_at_the_stop_or_at_a_gapped_open():
    broker, seen = await make()
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100)})
    await broker.submit_order(order("up", 5, kind=OrderType.STOP, stop_price=101.5))
    await broker.submit_order(order("gap", 5, kind=OrderType.STOP, stop_price=101.0))
    await broker.on_bar(T0 + timedelta(minutes=1), {"XYZ": bar(100.2, 101.6, 100, 101)})
    prices = {f.order_id: f.price for f in seen.fills()}
    assert prices == {"up": 101.5, "gap": 101.0}
    await broker.submit_order(order("down", 5, OrderSide.SELL, OrderType.STOP, stop_price=99.0))
    await broker.on_bar(T0 + timedelta(minutes=2), {"XYZ": bar(97, 98, 96, 97.5)})
    assert [f.price for f in seen.fills() if f.order_id == "down"] == [
        97.0
    ]  # gapped below the stop


async def test_insufficient_cash_is_a_rejection_event_with_the_reason():
    broker, seen = await make(initial_cash=1_000)
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100)})
    await broker.submit_order(order("big", 50))
    await broker.on_bar(T0 + timedelta(minutes=1), {"XYZ": bar(100, 101, 99, 100)})
    [rejected] = seen.statuses(OrderStatus.REJECTED)
    assert rejected.client_order_id == "big" and "cash" in (rejected.reason or "").lower()
    assert seen.fills() == [] and await broker.get_positions() == {}


async def test_whole_shares_round_down_and_a_fraction_below_one_is_rejected():
    broker, seen = await make()
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100)})
    await broker.submit_order(order("frac", 3.7))
    await broker.submit_order(order("tiny", 0.4))
    await broker.on_bar(T0 + timedelta(minutes=1), {"XYZ": bar(100, 101, 99, 100)})
    assert [(f.order_id, f.quantity) for f in seen.fills()] == [("frac", 3.0)]
    assert [e.client_order_id for e in seen.statuses(OrderStatus.REJECTED)] == ["tiny"]


async def test_resubmitting_the_same_client_id_does_not_create_a_second_order():
    broker, seen = await make()
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100)})
    await broker.submit_order(order("c1", 1))
    await broker.submit_order(order("c1", 1))
    await broker.on_bar(T0 + timedelta(minutes=1), {"XYZ": bar(100, 101, 99, 100)})
    assert len(seen.fills()) == 1


async def test_cancel_and_modify_reach_the_resting_order():
    broker, seen = await make()
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100)})
    await broker.submit_order(order("keep", 5, kind=OrderType.LIMIT, limit_price=90.0))
    await broker.submit_order(order("drop", 5, kind=OrderType.LIMIT, limit_price=90.0))
    assert await broker.modify_order("keep", limit_price=99.5)
    assert await broker.cancel_order("drop")
    assert not await broker.cancel_order("drop") and not await broker.cancel_order("unknown")
    assert [o.order_id for o in await broker.get_open_orders()] == ["keep"]
    await broker.on_bar(T0 + timedelta(minutes=1), {"XYZ": bar(100, 100, 99, 99.5)})
    assert [(f.order_id, f.price) for f in seen.fills()] == [("keep", 99.5)]
    assert [e.client_order_id for e in seen.statuses(OrderStatus.CANCELLED)] == ["drop"]


async def test_an_asset_with_a_non_finite_close_is_left_out_of_the_bar():
    broker, seen = await make()
    await broker.on_bar(T0, {"XYZ": bar(100, 101, 99, 100)})
    await broker.submit_order(order("c1", 1))
    await broker.on_bar(T0 + timedelta(minutes=1), {"XYZ": bar(100, 101, 99, float("nan"))})
    assert seen.fills() == []  # no usable price: nothing fills against it
    await broker.on_bar(T0 + timedelta(minutes=2), {"XYZ": bar(101, 102, 100, 101)})
    assert [f.price for f in seen.fills()] == [101.0]


async def test_history_does_not_accumulate_in_the_backtest_broker():
    broker, seen = await make()
    for i in range(400):
        ts = T0 + timedelta(minutes=i)
        await broker.on_bar(ts, {"XYZ": bar(100, 101, 99, 100)})
        await broker.submit_order(
            order(f"c{i}", 1, OrderSide.BUY if i % 2 == 0 else OrderSide.SELL)
        )
    await broker.on_bar(T0 + timedelta(minutes=400), {"XYZ": bar(100, 101, 99, 100)})
    assert len(seen.fills()) == 400
    assert len(broker.engine.orders) <= 64 + 2 and len(broker.engine.fills) == 0
    assert broker._live == {} and broker._inner_orders == {}
