"""The sim broker passes the broker conformance kit every broker plugin can run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ml4t_live_sim import SimBroker, SimBrokerConfig
from ml4t_live_testing.conformance import BrokerConformance

from ml4t_live_core.protocols import BrokerAdapter

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class TestSimBrokerConformance(BrokerConformance):
    async def make_broker(self) -> BrokerAdapter:
        self._bars = 0
        return SimBroker(SimBrokerConfig())

    async def trade_through(self, broker: BrokerAdapter, asset: str, price: float) -> None:
        # next_open fills: the bar after the order is the one it fills on, so show two bars.
        for _ in range(2):
            self._bars += 1
            when = T0 + timedelta(minutes=self._bars)
            bar = {"open": price, "high": price, "low": price, "close": price, "volume": 1e6}
            await broker.on_bar(when, {asset: bar})
