"""Shared helpers: an AlpacaBroker wired to the simulator, and a bounded wait for stream events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from ml4t_live_alpaca import AlpacaBroker, AlpacaBrokerConfig
from ml4t_live_testing.alpaca import AlpacaSimulator, alpaca_broker_settings

from ml4t_live_core.protocols import BrokerEvent


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 3.0, what: str = "condition"
) -> None:
    """Wait for something another socket will make true (a stream event); fail after `timeout`."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


class Recorder:
    """Collects every BrokerEvent the broker emits."""

    def __init__(self) -> None:
        self.events: list[BrokerEvent] = []

    def __call__(self, event: BrokerEvent) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def make_broker(alpaca_env: dict[str, str]) -> Callable[..., AlpacaBroker]:
    def make(sim: AlpacaSimulator, **overrides: Any) -> AlpacaBroker:
        return AlpacaBroker(AlpacaBrokerConfig(**alpaca_broker_settings(sim, **overrides)))

    return make


@pytest.fixture
async def connected(
    alpaca_sim_manual: AlpacaSimulator, make_broker: Callable[..., AlpacaBroker]
) -> AsyncIterator[tuple[AlpacaBroker, Recorder, AlpacaSimulator]]:
    """A connected broker on a manual-fill simulator, with its events recorded."""
    broker = make_broker(alpaca_sim_manual)
    events = Recorder()
    broker.subscribe(events)
    await broker.connect()
    try:
        yield broker, events, alpaca_sim_manual
    finally:
        await broker.disconnect()
