"""Bounded waits: a broker that never answers cannot hang the strategy, and an order whose
outcome is unknown comes back PENDING under its client id (reconciliation decides), never as
an exception for an order that may exist at the broker."""

from __future__ import annotations

import asyncio
import time

from ml4t.backtest import OrderStatus, Strategy
from ml4t_live_sim import SimBroker

from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_core.hookspecs import hookimpl


class NeverAcknowledges(SimBroker):
    """Takes orders, then never answers the submit call."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[str] = []

    async def submit_order(self, order):  # type: ignore[no-untyped-def]
        self.received.append(order.order_id)
        await asyncio.Event().wait()


class SubmitOnce(Strategy):
    def __init__(self) -> None:
        self.result: object = None
        self.seconds = 0.0

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if self.result is None:
            started = time.monotonic()
            try:
                self.result = broker.submit_order("A000", 1)
            except Exception as exc:  # noqa: BLE001 - what the strategy sees is the test
                self.result = exc
            self.seconds = time.monotonic() - started


async def test_an_unanswered_order_returns_pending_under_its_id(make_runtime, bars):
    strategy, broker = SubmitOnce(), NeverAcknowledges()
    runtime = make_runtime(strategy, data=bars.head(3 * 3), broker=broker,
                           overrides={"runtime": {"order_timeout": 0.3}})
    await runtime.engine.run(install_signal_handlers=False)
    order = strategy.result
    assert not isinstance(order, Exception), order
    assert order.status is OrderStatus.PENDING and broker.received == [order.order_id]
    assert strategy.seconds < 5  # bounded by order_timeout, not hung


class BlocksTheLoop:
    """A (badly written) risk check that blocks the event loop on purpose."""

    @hookimpl
    def ml4t_live_check_order(self, order, context):  # type: ignore[no-untyped-def]
        time.sleep(0.6)


async def test_a_stuck_loop_gives_the_strategy_a_bounded_error_naming_the_call(make_runtime, bars):
    strategy = SubmitOnce()
    runtime = make_runtime(strategy, data=bars.head(3 * 2),
                           extra_plugins=[(BlocksTheLoop(), "blocker")],
                           overrides={"runtime": {"order_timeout": 0.2, "getter_timeout": 0.1}})
    await runtime.engine.run(install_signal_handlers=False)
    assert isinstance(strategy.result, BrokerUnavailableError)
    assert "submit_order" in str(strategy.result)
