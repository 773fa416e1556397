"""Mapping of Alpaca's order models, as the simulator serves them, to ml4t orders."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import TradeUpdate
from ml4t.backtest import OrderType
from ml4t_live_alpaca.mapping import UnsupportedOrderError, mappable, to_order
from ml4t_live_testing.alpaca.book import SimAccount
from ml4t_live_testing.alpaca.wire import order_json


def _served(**changes: object) -> AlpacaOrder:
    """A limit order booked by the simulator, as alpaca-py parses its JSON, with `changes`."""
    account = SimAccount(auto_fill=False)
    booked, _ = account.submit({
        "symbol": "AAPL", "qty": "5", "side": "buy", "type": "limit", "limit_price": "90",
        "time_in_force": "day", "client_order_id": "t-00000001",
    })
    return AlpacaOrder(**{**order_json(booked), **changes})


def test_single_leg_order_maps_with_its_type():
    order = to_order(_served())
    assert (order.order_id, order.order_type, order.limit_price) == (
        "t-00000001", OrderType.LIMIT, 90.0
    )


def test_multi_leg_order_without_a_type_is_refused_by_name():
    # Alpaca sends '' for the type of an mleg order (alpaca-py turns it into None).
    alpaca = _served(order_class="mleg", type="", order_type="")
    with pytest.raises(UnsupportedOrderError, match=r"t-00000001.*no order type.*mleg"):
        to_order(alpaca)


def test_an_order_the_runtime_cannot_represent_is_left_alone_with_a_warning(caplog):
    options = _served(order_class="mleg", type="", order_type="")
    with caplog.at_level(logging.WARNING, logger="ml4t_live.alpaca"):
        assert mappable(options) is None
    assert "t-00000001" in caplog.text and "left alone" in caplog.text
    order = mappable(_served())
    assert order is not None and order.order_id == "t-00000001"


def test_a_stream_update_for_such_an_order_is_ignored_not_fatal(alpaca_sim, make_broker):
    # Before: the update raised out of the stream handler, the stream counted as lost, and
    # every reconnect failed the same way while orders were refused.
    broker = make_broker(alpaca_sim)
    seen: list = []
    broker.subscribe(seen.append)
    options = _served(order_class="mleg", type="", order_type="")
    broker._on_update(TradeUpdate(event="new", order=options, timestamp=datetime.now(UTC)))
    assert seen == [] and broker._tracks.get("t-00000001") is None
    broker._on_update(TradeUpdate(event="new", order=_served(), timestamp=datetime.now(UTC)))
    assert [e.client_order_id for e in seen] == ["t-00000001"]  # a normal order still maps
