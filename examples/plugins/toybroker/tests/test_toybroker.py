"""ToyBroker against the local stub: the ml4t-live broker conformance kit, plus API specifics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from ml4t.backtest import Order, OrderSide, OrderStatus
from ml4t_example_toybroker.broker import ToyBroker
from ml4t_example_toybroker.config import ToyBrokerConfig
from ml4t_example_toybroker.stub import ToyExchange, serve
from ml4t_live_testing.conformance import BrokerConformance

from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_core.protocols import BrokerAdapter

KEY = "toy-secret-key-123"


class TestToyBrokerConformance(BrokerConformance):
    timeout = 5.0

    @pytest_asyncio.fixture(autouse=True)
    async def exchange(self) -> AsyncIterator[ToyExchange]:
        self.stub = ToyExchange(api_key=KEY, quotes={self.asset: self.price})
        runner, self.url = await serve(self.stub)
        yield self.stub
        await runner.cleanup()

    async def make_broker(self) -> BrokerAdapter:
        return ToyBroker(ToyBrokerConfig(base_url=self.url, api_key=KEY, poll_interval=0.01))

    async def trade_through(self, broker: BrokerAdapter, asset: str, price: float) -> None:
        self.stub.set_quote(asset, price)

    async def drop_connection(self, broker: BrokerAdapter) -> bool:
        self.stub.available = False
        return True

    async def restore_connection(self, broker: BrokerAdapter) -> None:
        self.stub.available = True


@pytest_asyncio.fixture
async def stub() -> AsyncIterator[tuple[ToyExchange, str]]:
    exchange = ToyExchange(api_key=KEY, quotes={"XYZ": 50.0})
    runner, url = await serve(exchange)
    yield exchange, url
    await runner.cleanup()


async def test_unknown_symbol_is_rejected_with_the_apis_reason(stub):
    exchange, url = stub
    broker = ToyBroker(ToyBrokerConfig(base_url=url, api_key=KEY))
    await broker.connect()
    try:
        result = await broker.submit_order(Order("NOPE", OrderSide.BUY, 1, order_id="t-1"))
    finally:
        await broker.disconnect()
    assert result.status is OrderStatus.REJECTED
    assert "unknown symbol NOPE" in (result.rejection_reason or "")


async def test_a_wrong_key_fails_to_connect_without_echoing_it(stub):
    _, url = stub
    broker = ToyBroker(ToyBrokerConfig(base_url=url, api_key="wrong-key-456"))
    with pytest.raises(RuntimeError) as info:
        await broker.connect()
    assert "401" in str(info.value) and "wrong-key-456" not in str(info.value)
    assert not broker.is_connected


async def test_an_outage_refuses_orders_as_not_sent(stub):
    exchange, url = stub
    broker = ToyBroker(ToyBrokerConfig(base_url=url, api_key=KEY))
    await broker.connect()
    exchange.available = False
    try:
        with pytest.raises(BrokerUnavailableError):
            await broker.submit_order(Order("XYZ", OrderSide.BUY, 1, order_id="t-2"))
    finally:
        await broker.disconnect()
    assert "t-2" not in exchange.orders


def test_the_key_is_hidden_in_the_config_repr():
    config = ToyBrokerConfig(api_key=KEY)
    assert KEY not in repr(config) and KEY not in str(config.model_dump())
