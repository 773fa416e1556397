"""The IB broker passes the ml4t-live broker conformance kit against the local gateway simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from ml4t_live_ib.broker import IBBroker
from ml4t_live_ib.config import IBConfig
from ml4t_live_testing.conformance import BrokerConformance
from ml4t_live_testing.ib.gateway import IBGatewaySimulator

from ml4t_live_core.clock import ManualClock
from ml4t_live_core.protocols import BrokerAdapter


class TestIBConformance(BrokerConformance):
    asset = "AAPL"

    @pytest_asyncio.fixture(autouse=True)
    async def gateway(self, ib_gateway: IBGatewaySimulator) -> AsyncIterator[IBGatewaySimulator]:
        self.sim = ib_gateway
        ib_gateway.auto_fill_market = True  # market orders fill at the last price, like a venue
        ib_gateway.set_price(self.asset, self.price)
        yield ib_gateway

    async def make_broker(self) -> BrokerAdapter:
        config = IBConfig(
            port=self.sim.port,
            client_id=7,
            connect_timeout=2.0,
            request_timeout=2.0,
            ack_timeout=1.0,
            reconnect_attempts=20,
            reconnect_initial_delay=0.01,
            reconnect_max_delay=0.05,
        )
        return IBBroker(config, clock=ManualClock())

    async def trade_through(self, broker: BrokerAdapter, asset: str, price: float) -> None:
        self.sim.set_price(asset, price)

    async def drop_connection(self, broker: BrokerAdapter) -> bool:
        self.sim.drop_connections()
        return True
