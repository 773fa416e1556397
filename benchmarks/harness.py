"""Shared benchmark plumbing: the physical floors every target is a ratio of, and reporting.

Absolute times on this 2-core machine are noisy, so each benchmark measures its floors in the
same run and reports medians next to them (`report` prints JSON and writes bench-results/).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "bench-results"


def percentiles(samples_ns: Sequence[int | float]) -> dict[str, float]:
    """p50 / p90 / p99 / max of nanosecond samples, in microseconds."""
    ordered = sorted(samples_ns)
    if not ordered:
        raise ValueError("no samples")

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1_000

    return {
        "p50_us": at(0.50),
        "p90_us": at(0.90),
        "p99_us": at(0.99),
        "max_us": ordered[-1] / 1_000,
        "n": len(ordered),
    }


def time_calls(fn: Callable[[], Any], n: int) -> list[int]:
    """Wall time of `n` calls of `fn`, one sample per call, in nanoseconds."""
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return samples


def handoff_floor(n: int = 2_000) -> dict[str, float]:
    """The least a sync-strategy / async-broker design can cost per call: a worker thread
    reached through `asyncio.to_thread` calls `run_coroutine_threadsafe` on a no-op coroutine
    and waits for it. Samples are taken inside the thread, like a strategy's broker call."""

    async def noop() -> None:
        return None

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()

        def in_thread() -> list[int]:
            return time_calls(lambda: asyncio.run_coroutine_threadsafe(noop(), loop).result(), n)

        return await asyncio.to_thread(in_thread)

    return percentiles(asyncio.run(main()))


def fsync_floor(
    directory: str | Path | None = None, n: int = 1_000, record: bytes | None = None
) -> dict[str, float]:
    """One fsync'd append of a journal-sized record to a file in `directory` (the state dir)."""
    record = record or (
        b'{"event":"submitted","client_order_id":"bench-00000001","asset":"A000",'
        b'"side":"buy","quantity":10.0}\n'
    )
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        fd = os.open(
            os.path.join(tmp, "floor.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        try:

            def append() -> None:
                os.write(fd, record)
                os.fsync(fd)

            return percentiles(time_calls(append, n))
        finally:
            os.close(fd)


def median_of_runs(run: Callable[[], float], repeats: int = 5) -> dict[str, float]:
    """Median (and spread) of a figure measured `repeats` times."""
    values = [run() for _ in range(repeats)]
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": repeats,
    }


def report(
    name: str, results: dict[str, Any], targets: dict[str, bool] | None = None
) -> dict[str, Any]:
    """Print the results as JSON and write them to bench-results/<name>.json."""
    payload = {
        "benchmark": name,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "results": results,
        "targets_met": targets or {},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    print(json.dumps(payload, indent=2, default=str))
    return payload
