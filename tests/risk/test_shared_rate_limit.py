"""rate-limit per account: with a shared state backend (SQLite, Redis) the orders of every
process on the account count, read from the journal before each order; with a store of its
own, a process counts its own orders only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from ml4t.backtest import OrderSide, OrderStatus
from ml4t_live_risk_rate_limit.check import RateLimitCheck, RateLimitConfig
from ml4t_live_state_sqlite import SqliteStateConfig, SqliteStateStore
from ml4t_live_testing.risk import risk_context

from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import new_plugin_manager
from ml4t_live_core.safety import SafeBroker

LIMIT = RateLimitConfig(max_orders=3, per_seconds=10.0)


@pytest.fixture(params=["sqlite", "redis"])
async def shared(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], Any]]:
    """Opens another handle on one shared store (as a second process would)."""
    if request.param == "sqlite":
        def make() -> Any:
            return SqliteStateStore(SqliteStateConfig(path=tmp_path / "state.db"))
    else:
        redis_store = pytest.importorskip("ml4t_live_state_redis")
        server = request.getfixturevalue("fresh_redis")

        def make() -> Any:
            config = {"url": server.url, "account": "shared", "timeout": 2.0}
            return redis_store.RedisStateStore(redis_store.RedisStateConfig.model_validate(config))
    opened: list[Any] = []

    async def open_one() -> Any:
        store = make()
        await store.open()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


async def trader(store: Any) -> SafeBroker:
    """One process's safety layer with only the rate-limit check, started like the engine does."""
    context = risk_context(prices={"AAA": 10.0, "BBB": 20.0}, store=store)
    pm = new_plugin_manager()
    pm.register(RateLimitCheck(LIMIT), name="rate-limit")
    context.hooks = pm.hook
    await context.venue.connect()
    pm.hook.ml4t_live_on_run_start(stats=context.stats, context=context)
    return context


async def send(context: SafeBroker, asset: str = "AAA") -> tuple[OrderStatus, str]:
    order = await context.submit_order(asset, 1, OrderSide.BUY)
    return order.status, order.rejection_reason or ""


def advance(seconds: float, *contexts: SafeBroker) -> None:
    for context in contexts:
        context.clock.advance(seconds)


async def test_orders_of_every_process_on_the_account_count(shared) -> None:
    first, second = await trader(await shared()), await trader(await shared())
    assert (await send(first))[0] is OrderStatus.PENDING
    advance(1, first, second)
    assert (await send(second))[0] is OrderStatus.PENDING
    advance(1, first, second)
    assert (await send(first, "BBB"))[0] is OrderStatus.PENDING

    # Three on the account, though `second` sent only one itself.
    status, reason = await send(second)
    assert status is OrderStatus.REJECTED
    assert reason == (
        "rate-limit: 3 orders on this account in the last 10s "
        "(all processes sharing the state); max 3"
    )
    assert (await send(first))[0] is OrderStatus.REJECTED  # its own two + the other's one

    # Rejected orders were not counted; the first order leaves the window 10 s after it.
    advance(7.999, first, second)
    assert (await send(second))[0] is OrderStatus.REJECTED
    advance(0.001, first, second)
    assert (await send(second))[0] is OrderStatus.PENDING
    assert (await send(first))[0] is OrderStatus.REJECTED  # full again


async def test_a_process_that_joins_later_counts_what_was_sent_before_it(shared) -> None:
    first = await trader(await shared())
    for _ in range(3):
        assert (await send(first))[0] is OrderStatus.PENDING
    late = await trader(await shared())  # its first read walks the journal back
    status, reason = await send(late)
    assert status is OrderStatus.REJECTED and "3 orders on this account" in reason


async def test_stores_of_their_own_count_per_process() -> None:
    first, second = await trader(MemoryStateStore()), await trader(MemoryStateStore())
    for _ in range(3):
        assert (await send(first))[0] is OrderStatus.PENDING
        assert (await send(second))[0] is OrderStatus.PENDING
    status, reason = await send(second)
    assert status is OrderStatus.REJECTED
    assert reason == "rate-limit: 3 orders in the last 10s; max 3"
