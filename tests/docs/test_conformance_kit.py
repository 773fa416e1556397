"""The conformance kit fails brokers that break the contract (not a kit that passes anything)."""

from __future__ import annotations

from pathlib import Path

from .child_pytest import run_pytest

BROKEN = '''
import copy
from datetime import UTC, datetime, timedelta

from ml4t_live_sim import SimBroker, SimBrokerConfig
from ml4t_live_testing.conformance import BrokerConformance

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class NotIdempotent(SimBroker):
    """A retried client order id becomes a second order."""
    async def submit_order(self, order):
        if order.order_id in self._live:
            order = copy.copy(order)
            order.order_id += "-again"
        return await super().submit_order(order)


class AlwaysConnected(SimBroker):
    @property
    def is_connected(self):
        return True


class Base(BrokerConformance):
    broker_class = SimBroker

    async def make_broker(self):
        self.bars = 0
        return self.broker_class(SimBrokerConfig())

    async def trade_through(self, broker, asset, price):
        for _ in range(2):
            self.bars += 1
            bar = {"open": price, "high": price, "low": price, "close": price, "volume": 1e6}
            await broker.on_bar(T0 + timedelta(minutes=self.bars), {asset: bar})


class TestNotIdempotent(Base):
    broker_class = NotIdempotent


class TestAlwaysConnected(Base):
    broker_class = AlwaysConnected
'''


def test_the_kit_catches_a_retry_that_doubles_and_a_connection_that_lies(tmp_path: Path):
    (tmp_path / "test_broken.py").write_text(BROKEN)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    result = run_pytest("-rf", "test_broken.py", cwd=tmp_path)
    failed = {
        line.split("::", 2)[1] + "::" + line.split("::", 2)[2].split(" ")[0]
        for line in result.stdout.splitlines()
        if line.startswith("FAILED")
    }
    assert failed == {
        "TestNotIdempotent::test_resubmitting_the_same_client_id_makes_one_order",
        "TestAlwaysConnected::test_disconnect_clears_is_connected",
    }, result.stdout[-3000:]
