"""Crash harness for state backends: SIGKILL a writer at random moments, then check the store.

    report = run_crash_test("json", {"directory": str(tmp_path)}, kills=70)
    assert report.kills == 70

A long-lived "zygote" process imports the runtime and the plugins once, then forks one writer
per round (so a round costs milliseconds, not an interpreter start-up). The writer opens the
backend by its registered name + config dict and loops: append a journal record (or a group of
them through `append_journal_many`, when the backend has it), save a new state version, now and
then write the trading state, noting each step in a progress file. The parent kills it with
SIGKILL after a random delay, waits until it is reaped, and checks through a fresh store
instance that:

- the state loads (no `StateCorruptError`) and is the last version saved or the one in flight;
- the journal reads back whole: versions 1..k with no gap or repeat, every acknowledged append
  present, nothing that was never started; a torn last record is only ever reported (counted
  from the WARNING the backend logs), never parsed;
- `next_client_order_seq` exceeds every id in the journal; the trading state is the last one
  written or the one in flight.

Any violation raises `CrashCheckError` naming the round and what was seen.

Note: SIGKILL cannot split one small `write()` to a regular file, so torn journal lines come
from power loss or a full disk rather than from these kills; `torn_records_reported` counts them
if a backend writes a record in several steps, and backends test their torn-tail handling
directly (see tests/persistence/test_json_journal_file.py).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

VERSION_KEY = "crash_version"


class CrashCheckError(AssertionError):
    """After a kill, the store was not in a state a crash may leave."""


@dataclass(slots=True)
class CrashReport:
    """What one crash run saw."""

    backend: str
    kills: int = 0
    versions_written: int = 0
    torn_records_reported: int = 0
    killed_mid_save: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {"old": 0, "new": 0})


@functools.cache
def _registration(backend: str, plugin_module: str | None = None) -> Any:
    import importlib

    from ml4t_live_core.plugins import Kind, load_plugins

    extra = [(importlib.import_module(plugin_module), plugin_module)] if plugin_module else []
    return load_plugins(extra=extra).registry.get(Kind.STATE_STORE, backend)


def make_store(backend: str, config: Mapping[str, Any], plugin_module: str | None = None) -> Any:
    """A store of the registered `backend`, its config validated by the plugin's own schema.
    `plugin_module` (importable) is registered too, for backends without an entry point."""
    registration = _registration(backend, plugin_module)
    schema = registration.config
    return registration.factory(schema.model_validate(dict(config)) if schema else None)


def run_crash_test(
    backend: str,
    config: Mapping[str, Any],
    *,
    kills: int = 70,
    max_delay: float = 0.2,
    seed: int = 0,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 60.0,
    plugin_module: str | None = None,
) -> CrashReport:
    """Kill a writer of `backend` `kills` times at random moments within `max_delay` seconds of
    its start, checking the store after each kill. `env` is added to the zygote's environment
    (e.g. `ML4T_LIVE_LOAD_PLUGINS`). Raises `CrashCheckError` on the first violation."""
    rng = random.Random(seed)
    report = CrashReport(backend)
    progress_dir = Path(tempfile.mkdtemp(prefix="ml4t-crash-"))
    zygote = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ml4t_live_testing.crash",
            "--backend",
            backend,
            "--config",
            json.dumps(dict(config)),
            "--progress",
            str(progress_dir),
            *(["--plugin-module", plugin_module] if plugin_module else []),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
        env={**os.environ, **(env or {})},
    )
    checker = _Checker(backend, config, report, plugin_module)
    try:
        _expect(zygote, "ready", startup_timeout)
        for round_no in range(1, kills + 1):
            zygote.stdin.write(f"fork {round_no}\n")  # type: ignore[union-attr]
            pid = int(_expect(zygote, "pid", startup_timeout))
            # A random moment: the signal lands anywhere in open, load, append, save or replace.
            _sleep_real(rng.uniform(0.0, max_delay))
            os.kill(pid, signal.SIGKILL)
            zygote.stdin.write(f"wait {pid}\n")  # type: ignore[union-attr]
            _expect(zygote, "reaped", startup_timeout)
            checker.check(round_no, progress_dir / f"progress-{round_no}.log")
            report.kills += 1
    finally:
        if zygote.poll() is None:
            zygote.stdin.write("quit\n")  # type: ignore[union-attr]
            zygote.stdin.flush()  # type: ignore[union-attr]
            try:
                zygote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                zygote.kill()
                zygote.wait()
    return report


def _sleep_real(seconds: float) -> None:
    # The one real wait in the harness: a crash must land at a real moment of a real process.
    import time

    time.sleep(seconds)


def _expect(zygote: subprocess.Popen[str], word: str, timeout: float) -> str:
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(zygote.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        if not sel.select(timeout):
            raise CrashCheckError(f"zygote gave no {word!r} within {timeout}s")
    line = zygote.stdout.readline().strip()  # type: ignore[union-attr]
    head, _, rest = line.partition(" ")
    if head != word:
        raise CrashCheckError(
            f"zygote said {line!r}, expected {word!r} (exit code {zygote.poll()})"
        )
    return rest


class _TornCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "torn" in record.getMessage():
            self.count += 1


class _Checker:
    """The parent's view: what was durably done before each kill, and what the store says."""

    def __init__(
        self,
        backend: str,
        config: Mapping[str, Any],
        report: CrashReport,
        plugin_module: str | None,
    ):
        self.backend, self.config, self.report = backend, config, report
        self.plugin_module = plugin_module
        self.state_version = 0
        self.journal_length = 0
        self.trading_reason: str | None = None

    def check(self, round_no: int, progress: Path) -> None:
        steps = _read_progress(progress)
        counter = _TornCounter()
        root = logging.getLogger("ml4t_live")
        root.addHandler(counter)
        try:
            state, records, trading = asyncio.run(self._load(round_no))
        finally:
            root.removeHandler(counter)
        self.report.torn_records_reported += counter.count

        def fail(problem: str) -> CrashCheckError:
            return CrashCheckError(
                f"{self.backend} crash round {round_no}: {problem} (steps: {steps[-6:]})"
            )

        # state: the last completed save, or the one in flight when the kill landed
        saved = [v for k, v in steps if k == "s"]
        started = [v for k, v in steps if k == "S"]
        old = saved[-1] if saved else self.state_version
        inflight = started[-1] if started and (not saved or started[-1] > saved[-1]) else None
        version = state.extra.get(VERSION_KEY, 0) if state is not None else 0
        if version == old:
            self.report.outcomes["old"] += 1
        elif inflight is not None and version == inflight:
            self.report.outcomes["new"] += 1
        else:
            raise fail(f"state version {version}, expected {old} (old) or {inflight} (in flight)")
        if inflight is not None:
            self.report.killed_mid_save += 1
        self.state_version = version

        # journal: whole records 1..k, every acknowledged append present, nothing unstarted
        versions = [r.detail.get(VERSION_KEY) for r in records]
        if versions != list(range(1, len(versions) + 1)):
            raise fail(f"journal versions are not 1..k without gaps: ...{versions[-5:]}")
        acked = [v for k, v in steps if k == "a"]
        begun = [v for k, v in steps if k == "A"]
        low = acked[-1] if acked else self.journal_length
        high = begun[-1] if begun else self.journal_length
        if not low <= len(versions) <= high:
            raise fail(f"journal has {len(versions)} records, expected {low}..{high}")
        self.journal_length = len(versions)
        seqs = [int(r.client_order_id.rpartition("-")[2]) for r in records if r.client_order_id]
        if seqs and (state is None or state.next_client_order_seq <= max(seqs)):
            raise fail(
                f"next_client_order_seq {state and state.next_client_order_seq} "
                f"does not exceed {max(seqs)}"
            )
        self.report.versions_written = max(self.report.versions_written, len(versions))

        # trading state: the last completed write, or the one in flight
        written = [v for k, v in steps if k == "t"]
        writing = [v for k, v in steps if k == "T"]
        allowed = {f"v{written[-1]}" if written else self.trading_reason}
        if writing and (not written or writing[-1] > written[-1]):
            allowed.add(f"v{writing[-1]}")
        reason = trading.reason if trading is not None else None
        if reason not in allowed:
            raise fail(f"trading state {reason!r}, expected one of {sorted(map(str, allowed))}")
        self.trading_reason = reason

    async def _load(self, round_no: int) -> tuple[Any, Any, Any]:
        from ml4t_live_core.errors import StateCorruptError

        store = make_store(self.backend, self.config, self.plugin_module)
        await store.open()
        try:
            return (
                await store.load_state(),
                list(await store.read_journal()),
                await store.read_trading_state(),
            )
        except StateCorruptError as exc:
            raise CrashCheckError(
                f"{self.backend} crash round {round_no}: store unusable after a kill: {exc}"
            ) from exc
        finally:
            await store.close()


def _read_progress(path: Path) -> list[tuple[str, int]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    steps = []
    for line in text.splitlines():
        kind, _, value = line.partition(" ")
        if value.isdigit():
            steps.append((kind, int(value)))
    return steps


# --- the zygote and its writers (child side) ------------------------------------------------
async def _write_forever(
    backend: str, config: Mapping[str, Any], progress: Path, plugin_module: str | None
) -> None:
    from ml4t_live_core.protocols import TradingStateRecord
    from ml4t_live_core.risk import TradingState
    from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState

    fd = os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def mark(kind: str, version: int) -> None:
        os.write(fd, f"{kind} {version}\n".encode())  # the page cache survives SIGKILL

    store = make_store(backend, config, plugin_module)
    await store.open()
    state = await store.load_state() or RiskState()
    records = await store.read_journal()
    version = max(
        [state.extra.get(VERSION_KEY, 0), *(r.detail.get(VERSION_KEY, 0) for r in records)]
    )
    rng = random.Random(os.getpid())
    many = getattr(store, "append_journal_many", None)
    while True:
        # A backend with group commit gets groups of 1-4 records too, as the recorder sends them.
        group = rng.randint(1, 4) if many is not None and version % 2 else 1
        records = []
        for _ in range(group):
            version += 1
            seq = state.next_client_order_seq
            state.next_client_order_seq = seq + 1
            records.append(JournalRecord(
                datetime.now(UTC),
                JournalEvent.SUBMITTED,
                client_order_id=f"crash-{seq:08d}",
                asset="CRASH",
                side="buy",
                quantity=1.0,
                order_type="market",
                detail={VERSION_KEY: version, "pad": "x" * rng.randrange(0, 600)},
            ))
        now = records[-1].timestamp
        mark("A", version)
        if group == 1:
            await store.append_journal(records[0])
        else:
            assert many is not None  # groups of 2+ only for a store with group commit
            await many(records)
        mark("a", version)
        state.orders_total = version
        state.extra = {VERSION_KEY: version}
        mark("S", version)
        await store.save_state(state)
        mark("s", version)
        if version % 3 == 0:
            halted = TradingState.HALTED if version % 2 else TradingState.ACTIVE
            mark("T", version)
            await store.write_trading_state(TradingStateRecord(halted, f"v{version}", now))
            mark("t", version)


def _zygote(
    backend: str, config: Mapping[str, Any], progress_dir: Path, plugin_module: str | None
) -> None:
    import warnings

    # Imports leave allocator/housekeeping threads (polars' jemalloc) idle in this process; the
    # forked writer only runs Python and the backend, never touches them, so fork is safe here.
    warnings.filterwarnings(
        "ignore", message=".*use of fork\\(\\) may lead to deadlocks", category=DeprecationWarning
    )
    make_store(backend, config, plugin_module)  # import everything, validate the config, then fork
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "fork":
            pid = os.fork()
            if pid == 0:  # the writer: runs until SIGKILL
                try:
                    asyncio.run(
                        _write_forever(
                            backend, config, progress_dir / f"progress-{arg}.log", plugin_module
                        )
                    )
                finally:
                    os._exit(3)
            print(f"pid {pid}", flush=True)
        elif command == "wait":
            _, status = os.waitpid(int(arg), 0)
            print(f"reaped {status}", flush=True)
        elif command == "quit":
            return


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="crash-test zygote (started by run_crash_test)")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--progress", required=True)
    parser.add_argument("--plugin-module", default=None)
    args = parser.parse_args()
    _zygote(args.backend, json.loads(args.config), Path(args.progress), args.plugin_module)
