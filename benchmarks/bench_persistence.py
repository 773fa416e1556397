"""Persistence cost per order decision, per state backend, next to the fsync floor of the same run.

An order decision costs, on the order path: one durable journal append (through the Recorder's
ordered queue, as SafeBroker does it) plus one read of the persisted trading state (the halt
another process may have written). Target: p50 within 1.5x of one fsync'd append in the same
directory (`harness.fsync_floor`). Also reported: the loop's responsiveness while appending
(how late a 1 ms heartbeat coroutine runs), which is why fsync runs on a writer thread.

    uv run python benchmarks/bench_persistence.py [--n 1000]

Add a backend by adding an entry to BACKENDS: name -> async factory(directory) -> opened store.
Redis (persistence_redis.py) is held to its own floor: a bare round trip to the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import fsync_floor, percentiles, report  # noqa: E402
from persistence_redis import redis_figures  # noqa: E402

from ml4t_live_core.journaling import Recorder  # noqa: E402
from ml4t_live_core.state import JournalEvent, JournalRecord, encode_record  # noqa: E402


async def _json(directory: Path) -> Any:
    from ml4t_live_state_json import JsonStateConfig, JsonStateStore

    return JsonStateStore(JsonStateConfig(directory=directory))


async def _json_on_loop(directory: Path) -> Any:
    from ml4t_live_state_json import JsonStateConfig, JsonStateStore

    return JsonStateStore(JsonStateConfig(directory=directory), fsync_on_loop=True)


async def _sqlite(directory: Path) -> Any:
    from ml4t_live_state_sqlite import SqliteStateConfig, SqliteStateStore

    return SqliteStateStore(SqliteStateConfig(path=directory / "state.db"))


#: name -> factory(state directory) -> store (unopened). Other backends add themselves here.
BACKENDS: dict[str, Callable[[Path], Awaitable[Any]]] = {
    "json": _json,
    "json-fsync-on-loop": _json_on_loop,
    "sqlite": _sqlite,
}
#: Variants measured for comparison only (not held to the target).
COMPARISON_ONLY = {"json-fsync-on-loop"}


def _record(seq: int) -> JournalRecord:
    return JournalRecord(
        datetime.now(UTC),
        JournalEvent.SUBMITTED,
        client_order_id=f"bench.acct-{seq:08d}",
        asset="A000",
        side="buy",
        quantity=10.0,
        order_type="market",
    )


async def _measure(store: Any, n: int, floor_dir: Path) -> dict[str, Any]:
    await store.open()
    recorder = Recorder(store, shadow=False, on_failure=lambda exc: None)
    recorder.start()
    for seq in range(20):  # warm up: files, connections, thread
        await recorder.write(_record(seq))
    # Pass 1, latency. The floor is sampled interleaved with the backend, in the same directory,
    # so both see the same disk and the same load from other processes (this machine is shared).
    # Nothing else runs on the loop here: a busy loop would keep the vCPU awake and flatter
    # whichever variant waits on another thread.
    decision, append, poll, floor = [], [], [], []
    floor_fd = os.open(floor_dir / "floor.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    line = encode_record(_record(0)) + b"\n"
    for seq in range(20, 20 + n):
        f0 = time.perf_counter_ns()
        os.write(floor_fd, line)
        os.fsync(floor_fd)
        floor.append(time.perf_counter_ns() - f0)
        t0 = time.perf_counter_ns()
        await store.read_trading_state()
        t1 = time.perf_counter_ns()
        await recorder.write(_record(seq))
        t2 = time.perf_counter_ns()
        decision.append(t2 - t0)
        append.append(t2 - t1)
        poll.append(t1 - t0)
    os.close(floor_fd)

    # Pass 2, responsiveness: how late a coroutine that wants the loop every 1 ms gets it while
    # orders are journaled (an fsync on the loop thread delays every feed and fill handler).
    lags: list[int] = []
    running = True

    async def heartbeat() -> None:
        while running:
            start = time.perf_counter_ns()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter_ns() - start - 1_000_000)

    beat = asyncio.get_running_loop().create_task(heartbeat())
    for seq in range(20 + n, 20 + n + max(50, n // 4)):
        await recorder.write(_record(seq))
    running = False
    await beat
    await recorder.close()
    await store.close()
    return {
        "order_decision": percentiles(decision),
        "journal_append": percentiles(append),
        "trading_state_read": percentiles(poll),
        "floor_fsync_append_interleaved": percentiles(floor),
        "loop_heartbeat_lateness": percentiles(lags),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where state lives (default: a temp dir)"
    )
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="ml4t-bench-persistence-"))
    results: dict[str, Any] = {"floor_fsync_append": fsync_floor(base, n=args.n)}
    targets: dict[str, bool] = {}
    for name, factory in BACKENDS.items():
        directory = base / name
        directory.mkdir(parents=True, exist_ok=True)
        store = asyncio.run(factory(directory))
        figures = asyncio.run(_measure(store, args.n, directory))
        ratio = (
            figures["order_decision"]["p50_us"]
            / figures["floor_fsync_append_interleaved"]["p50_us"]
        )
        results[name] = {**figures, "p50_ratio_to_floor": round(ratio, 2)}
        if name not in COMPARISON_ONLY:
            targets[f"{name}: order decision p50 <= 1.5x fsync floor"] = ratio <= 1.5
    redis = redis_figures(args.n)  # None when redis-server is not installed
    if redis is not None:
        results["redis"], redis_targets = redis
        targets.update(redis_targets)
    report("persistence", results, targets)


if __name__ == "__main__":
    main()
