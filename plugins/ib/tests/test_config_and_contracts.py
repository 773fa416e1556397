"""Config safety (paper by default, live only on purpose), account choice, contract mapping."""

from __future__ import annotations

import ib_async
import pytest
from ml4t_live_ib.broker import IBBroker
from ml4t_live_ib.config import IBConfig
from ml4t_live_ib.connection import LiveAccountRefused
from ml4t_live_ib.contracts import UnknownContractError, contract_for
from pydantic import ValidationError

from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_core.plugins import LOAD_ENV_VAR

from .conftest import fast_config


@pytest.mark.parametrize("port", [7496, 4001])
def test_live_port_refused_unless_live(port):
    with pytest.raises(ValidationError, match=f"port {port} is a live-trading port"):
        IBConfig(port=port)
    assert IBConfig(port=port, live=True).live


def test_defaults_are_paper_gateway():
    config = IBConfig()
    assert (config.host, config.port, config.live) == ("127.0.0.1", 4002, False)


def test_unknown_keys_and_bad_values_are_errors():
    with pytest.raises(ValidationError, match="clientid"):
        IBConfig(clientid=3)
    with pytest.raises(ValidationError, match="ack_timeout"):
        IBConfig(ack_timeout=float("nan"))
    with pytest.raises(ValidationError, match="last_trade"):
        IBConfig(contracts={"ES": {"sec_type": "FUT", "exchange": "CME"}})


async def test_live_account_refused_without_live(ib_gateway):
    ib_gateway.book.account = "U7654321"  # a live (non-paper) account id
    broker = IBBroker(fast_config(ib_gateway.port))
    with pytest.raises(LiveAccountRefused) as info:
        await broker.connect()
    assert "U7654321" not in str(info.value)  # account ids are secrets
    assert not broker.ib.isConnected()
    assert ib_gateway.placed == []


async def test_account_from_environment_must_be_managed(ib_gateway, monkeypatch):
    monkeypatch.setenv("IB_ACCOUNT", "DU9999999")
    broker = IBBroker(fast_config(ib_gateway.port))
    with pytest.raises(BrokerUnavailableError) as info:
        await broker.connect()
    assert "$IB_ACCOUNT" in str(info.value) and "DU9999999" not in str(info.value)


async def test_account_from_environment_is_used(ib_gateway, monkeypatch):
    monkeypatch.setenv("IB_ACCOUNT", "DU1234567")
    broker = IBBroker(fast_config(ib_gateway.port))
    await broker.connect()
    try:
        assert broker.conn.account == "DU1234567"
    finally:
        await broker.disconnect()


def test_contract_mapping_stock_future_forex_crypto():
    config = IBConfig(
        primary_exchanges={"MSFT": "NASDAQ"},
        contracts={
            "ES": {
                "sec_type": "FUT",
                "symbol": "ES",
                "exchange": "CME",
                "last_trade": "20240315",
                "multiplier": "50",
            },
            "EUR.USD": {"sec_type": "CASH", "symbol": "EUR", "currency": "USD"},
            "BTC": {"sec_type": "CRYPTO"},
        },
    )
    stock = contract_for("MSFT", config)
    assert (stock.secType, stock.exchange, stock.currency, stock.primaryExchange) == (
        "STK",
        "SMART",
        "USD",
        "NASDAQ",
    )
    future = contract_for("ES", config)
    assert (
        future.secType,
        future.lastTradeDateOrContractMonth,
        future.exchange,
        future.multiplier,
    ) == ("FUT", "20240315", "CME", "50")
    fx = contract_for("EUR.USD", config)
    assert (fx.secType, fx.symbol, fx.currency, fx.exchange) == ("CASH", "EUR", "USD", "IDEALPRO")
    crypto = contract_for("BTC", config)
    assert (crypto.secType, crypto.exchange) == ("CRYPTO", "PAXOS")
    with pytest.raises(ValueError, match="empty"):
        contract_for(" ", config)


async def test_contracts_are_qualified_once_and_cached(ib_gateway, ib_broker):
    sent = []
    original = ib_broker.ib.client.reqContractDetails
    ib_broker.ib.client.reqContractDetails = lambda *a: (sent.append(a), original(*a))
    first = await ib_broker.contracts.qualify("AAPL")
    second = await ib_broker.contracts.qualify("AAPL")
    assert first is second and first.conId == 265598
    assert len(sent) == 1
    with pytest.raises(UnknownContractError, match="'NOPE'"):
        await ib_broker.contracts.qualify("NOPE")


async def test_future_multiplier_reaches_positions(ib_gateway):
    config = fast_config(
        ib_gateway.port,
        contracts={
            "ES": {
                "sec_type": "FUT",
                "symbol": "ES",
                "exchange": "CME",
                "last_trade": "20240315",
                "multiplier": "50",
            },
        },
    )
    ib_gateway.add_position("ES", 2, 4800.0 * 50)
    broker = IBBroker(config)
    await broker.connect()
    try:
        contract = await broker.contracts.qualify("ES")
        assert isinstance(contract, ib_async.Contract) and contract.conId == 495512551
        position = (await broker.get_positions())["ES"]
        assert (position.quantity, position.entry_price, position.multiplier) == (2.0, 4800.0, 50.0)
        assert broker.get_multiplier("ES") == 50.0
    finally:
        await broker.disconnect()


def test_plugin_registers_broker_ib(monkeypatch):
    from ml4t_live_core.plugins import Kind, load_plugins

    monkeypatch.setenv(LOAD_ENV_VAR, "ib")
    plugins = load_plugins()
    registration = plugins.registry.get(Kind.BROKER, "ib")
    # deferred: ib_async is imported when the broker is built, not when the plugin loads
    assert registration.factory.load() is IBBroker and registration.config is IBConfig


async def test_account_id_never_reaches_the_logs(ib_gateway, caplog):
    import logging

    from ml4t.backtest import Order, OrderSide

    caplog.set_level(logging.DEBUG)
    broker = IBBroker(fast_config(ib_gateway.port))
    await broker.connect()
    try:
        await broker.submit_order(
            Order(asset="AAPL", side=OrderSide.BUY, quantity=1, order_id="log-1")
        )
        ib_gateway.fill("log-1", price=100.0)
        await broker.ib.reqCurrentTimeAsync()
    finally:
        await broker.disconnect()
    messages = [r.getMessage() for r in caplog.records]
    assert any("log-1" in m for m in messages)  # ib_async did log the trade ...
    assert not any("DU1234567" in m for m in messages)  # ... with the account masked


async def test_repeated_submitted_status_is_one_acknowledgement(ib_gateway, ib_broker):
    from ml4t.backtest import Order, OrderSide, OrderStatus

    from ml4t_live_core.protocols import OrderStatusEvent

    await ib_broker.submit_order(
        Order(asset="AAPL", side=OrderSide.BUY, quantity=10, order_id="ack-1")
    )
    for _ in range(3):
        ib_gateway.fill("ack-1", 2, price=100.0)
    await ib_broker.ib.reqCurrentTimeAsync()
    acks = [
        e
        for e in ib_broker.events
        if isinstance(e, OrderStatusEvent) and e.status is OrderStatus.PENDING
    ]
    assert [e.client_order_id for e in acks] == ["ack-1"]


async def test_forex_and_crypto_qualify_and_trade_through_the_mapping(ib_gateway):
    from ml4t.backtest import Order, OrderSide, OrderStatus

    config = fast_config(
        ib_gateway.port,
        contracts={
            "EUR.USD": {"sec_type": "CASH", "symbol": "EUR", "currency": "USD"},
            "BTC": {"sec_type": "CRYPTO"},
        },
    )
    broker = IBBroker(config)
    await broker.connect()
    try:
        fx = await broker.contracts.qualify("EUR.USD")
        btc = await broker.contracts.qualify("BTC")
        assert (fx.conId, fx.secType, btc.conId, btc.secType) == (
            12087792,
            "CASH",
            479624278,
            "CRYPTO",
        )
        order = Order(asset="EUR.USD", side=OrderSide.BUY, quantity=20_000, order_id="fx-1")
        assert (await broker.submit_order(order)).status is OrderStatus.PENDING
        ib_gateway.fill("fx-1", price=1.0850)
        await broker.ib.reqCurrentTimeAsync()
        assert (await broker.get_positions())["EUR.USD"].quantity == 20_000.0
    finally:
        await broker.disconnect()
