"""IBBroker wired to the local gateway simulator, with every broker event recorded."""

from __future__ import annotations

import pytest
from ml4t_live_ib.broker import IBBroker
from ml4t_live_ib.config import IBConfig

from ml4t_live_core.clock import ManualClock
from ml4t_live_core.protocols import BrokerEvent


def fast_config(port: int, **overrides) -> IBConfig:
    """Short timeouts and backoff so reconnect tests take milliseconds."""
    values = dict(
        port=port,
        client_id=7,
        connect_timeout=2.0,
        request_timeout=2.0,
        ack_timeout=1.0,
        reconnect_attempts=20,
        reconnect_initial_delay=0.01,
        reconnect_max_delay=0.05,
    )
    values.update(overrides)
    return IBConfig(**values)


@pytest.fixture
async def ib_broker(ib_gateway):
    broker = IBBroker(fast_config(ib_gateway.port), clock=ManualClock())
    broker.events = []  # type: ignore[attr-defined]
    broker.subscribe(broker.events.append)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.disconnect()


async def settle(broker: IBBroker) -> None:
    """One request/response round trip: everything the gateway sent before is decoded."""
    await broker.ib.reqCurrentTimeAsync()


def events_of(broker: IBBroker, kind: type[BrokerEvent]) -> list:
    return [e for e in broker.events if isinstance(e, kind)]  # type: ignore[attr-defined]


async def wait_until(predicate, timeout: float = 3.0) -> None:
    """Bounded wait for a socket-driven condition (reconnects take a few milliseconds)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def reconnected(broker: IBBroker, times: int = 1):
    from ml4t_live_core.protocols import ConnectionEvent

    return lambda: sum(1 for e in events_of(broker, ConnectionEvent) if e.connected) >= times
