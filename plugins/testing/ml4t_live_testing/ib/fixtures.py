"""pytest fixtures for the IB gateway simulator (exported through the kit's pytest11 entry point).

The fixtures are async; projects using them run pytest-asyncio with asyncio_mode = "auto".
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ml4t_live_testing.ib.gateway import IBGatewaySimulator

__all__ = ["ib_gateway"]


@pytest.fixture
async def ib_gateway() -> AsyncIterator[IBGatewaySimulator]:
    """A running simulator on 127.0.0.1 (free port), account DU1234567, stopped afterwards."""
    gateway = IBGatewaySimulator()
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()
