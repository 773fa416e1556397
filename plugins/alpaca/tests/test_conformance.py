"""The Alpaca broker passes the ml4t-live broker conformance kit against the local simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ml4t_live_alpaca import AlpacaBroker, AlpacaBrokerConfig
from ml4t_live_testing.alpaca import AlpacaSimulator, alpaca_broker_settings
from ml4t_live_testing.conformance import BrokerConformance

from ml4t_live_core.protocols import BrokerAdapter


class TestAlpacaConformance(BrokerConformance):
    asset = "AAPL"

    @pytest.fixture(autouse=True)
    def simulator(
        self, alpaca_sim: AlpacaSimulator, alpaca_env: dict[str, str]
    ) -> Iterator[AlpacaSimulator]:
        self.sim = alpaca_sim
        alpaca_sim.set_price(self.asset, self.price)  # the venue has a market before any order
        yield alpaca_sim

    async def make_broker(self) -> BrokerAdapter:
        return AlpacaBroker(AlpacaBrokerConfig(**alpaca_broker_settings(self.sim)))

    async def trade_through(self, broker: BrokerAdapter, asset: str, price: float) -> None:
        self.sim.set_price(asset, price)

    async def drop_connection(self, broker: BrokerAdapter) -> bool:
        self.sim.drop_trade_stream(refuse=2)
        return True
