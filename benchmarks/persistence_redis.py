"""The Redis part of bench_persistence: its own floor, a bare round trip to the same server.

A Redis order decision waits on the network, not on a disk, so its floor is the cheapest
exchange with the same redis-server in the same run: a PING, and a bare XADD of the same
record bytes (no Lua, no checks, no timeout, no codec). Samples are interleaved so both see
the same load. Imported by bench_persistence.py; skipped when redis-server is not installed.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import percentiles

from ml4t_live_core.journaling import Recorder
from ml4t_live_core.state import JournalEvent, JournalRecord, encode_record

TARGET_RATIO = 1.5


def _record(seq: int) -> JournalRecord:
    return JournalRecord(
        datetime.now(UTC), JournalEvent.SUBMITTED, client_order_id=f"bench.acct-{seq:08d}",
        asset="A000", side="buy", quantity=10.0, order_type="market",
    )


async def _measure(url: str, n: int, rounds: int = 10) -> dict[str, Any]:
    from ml4t_live_state_redis import RedisStateConfig, RedisStateStore
    from redis.asyncio import Redis

    bare = Redis.from_url(url)
    store = RedisStateStore(RedisStateConfig.model_validate({"url": url, "account": "bench"}))
    await store.open()
    recorder = Recorder(store, shadow=False, on_failure=lambda exc: None)
    recorder.start()
    payload = encode_record(_record(0))
    # Records are built before timing: making them is the core's work, storing them ours.
    records = iter([_record(seq) for seq in range(1, 3 * n + 1_000)])

    async def ping() -> None:
        await bare.ping()

    async def bare_xadd() -> None:
        await bare.xadd("bench:bare-journal", {"v": "1", "record": payload})

    async def decision_direct() -> None:
        await store.read_trading_state()
        await store.append_journal(next(records))

    async def decision_recorder() -> None:  # as SafeBroker does it: through the ordered writer
        await store.read_trading_state()
        await recorder.write(next(records))

    async def trading_state_read() -> None:
        await store.read_trading_state()

    cases: dict[str, Callable[[], Awaitable[None]]] = {
        "floor_ping": ping, "floor_bare_xadd": bare_xadd, "order_decision_direct": decision_direct,
        "order_decision": decision_recorder, "trading_state_read": trading_state_read,
    }
    samples: dict[str, list[int]] = {name: [] for name in cases}
    try:
        for fn in cases.values():  # warm up connections, scripts, the writer task
            for _ in range(100):
                await fn()
        for _ in range(rounds):
            for name, fn in cases.items():
                for _ in range(n // rounds):
                    start = time.perf_counter_ns()
                    await fn()
                    samples[name].append(time.perf_counter_ns() - start)
    finally:
        await recorder.close()
        await store.close()
        await bare.aclose()
    results: dict[str, Any] = {name: percentiles(values) for name, values in samples.items()}
    floor = results["floor_bare_xadd"]["p50_us"]
    results["p50_ratio_to_floor"] = round(results["order_decision"]["p50_us"] / floor, 2)
    direct = results["order_decision_direct"]["p50_us"]
    results["p50_ratio_to_floor_direct"] = round(direct / floor, 2)
    return results


def redis_figures(n: int) -> tuple[dict[str, Any], dict[str, bool]] | None:
    """Start a throw-away redis-server, measure, stop it; None when it is not installed."""
    from ml4t_live_testing.redis_server import find_executable, running_redis_server

    if find_executable() is None:
        print("redis-server is not installed: Redis figures skipped (apt-get install redis-server)")
        return None
    with tempfile.TemporaryDirectory() as tmp, running_redis_server(Path(tmp)) as server:
        results = asyncio.run(_measure(server.url, n))
    target = {f"redis: order decision p50 <= {TARGET_RATIO}x bare XADD p50":
              results["p50_ratio_to_floor"] <= TARGET_RATIO}
    return results, target
