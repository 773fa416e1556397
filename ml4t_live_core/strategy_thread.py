"""StrategyThread: the one long-lived thread that runs strategy callbacks, one at a time.

A call is a `SimpleQueue.put` to the thread and a `call_soon_threadsafe` back that resolves an
asyncio future: measured ≈ 30 % less per round trip than `run_in_executor` (no executor work
item, concurrent future or future chaining), which every bar pays once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

_Call = tuple[
    asyncio.AbstractEventLoop,
    asyncio.Future[Any],
    contextvars.Context,
    Callable[..., Any],
    tuple[Any, ...],
]


class StrategyThread:
    """Runs callables on one dedicated thread, so thread-local state in strategies is safe."""

    def __init__(self, name: str = "ml4t-strategy") -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        # A daemon: a strategy stuck in a callback must not keep the process alive after the run.
        # Started by the first call, so an engine that is built but never run leaves no thread.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._closed = False

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue `fn(*args)` (in a copy of the caller's context); the future holds its outcome."""
        if self._closed:
            raise RuntimeError("the strategy thread is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._calls.put((loop, future, contextvars.copy_context(), fn, args))
        if self._thread.ident is None:
            self._thread.start()
        return future

    def close(self) -> None:
        """Let the thread end after the call it is running (it takes no new ones)."""
        if not self._closed:
            self._closed = True
            self._calls.put(None)  # a thread never started just never reads it

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            loop, future, context, fn, args = call
            try:
                result = context.run(fn, *args)
            except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the awaiting loop
                if isinstance(exc, StopIteration):  # a future cannot hold StopIteration
                    exc = RuntimeError(f"strategy callback raised StopIteration: {exc!r}")
                _post(loop, _fail, future, exc)
            else:
                _post(loop, _succeed, future, result)


def _post(loop: asyncio.AbstractEventLoop, deliver: Callable[..., None], *args: Any) -> None:
    # RuntimeError: the loop closed while the callback ran, so nobody awaits the outcome.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(deliver, *args)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
