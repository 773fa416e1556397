"""A bounded wait for what another thread or socket will make true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ml4t_live_core.demo_venue import DemoVenueError


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0
) -> None:
    """Poll `check` until it is true; a `DemoVenueError` naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise DemoVenueError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)
