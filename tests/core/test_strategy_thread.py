"""StrategyThread: one thread for every call, outcomes (values, errors, context) come back."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from ml4t_live_core.strategy_thread import StrategyThread

REQUEST = contextvars.ContextVar("request", default="none")


async def test_every_call_runs_on_the_same_other_thread_in_order():
    worker = StrategyThread()
    try:
        seen = [await worker.run(lambda i=i: (i, threading.get_ident())) for i in range(20)]
    finally:
        worker.close()
    assert [i for i, _ in seen] == list(range(20))
    assert {t for _, t in seen} == {worker.ident} and worker.ident != threading.get_ident()


async def test_errors_and_the_callers_context_reach_the_awaiting_loop():
    worker = StrategyThread()
    REQUEST.set("bar-7")
    try:
        assert await worker.run(REQUEST.get) == "bar-7"
        with pytest.raises(ZeroDivisionError):
            await worker.run(lambda: 1 / 0)
        with pytest.raises(RuntimeError, match="StopIteration"):
            await worker.run(next, iter(()))
        assert await worker.run(lambda: "still serving") == "still serving"
    finally:
        worker.close()


async def test_a_closed_thread_takes_no_calls_and_ends():
    worker = StrategyThread()
    await worker.run(lambda: None)
    worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        worker.run(lambda: None)
    await asyncio.to_thread(worker._thread.join, 5)
    assert not worker._thread.is_alive()


async def test_no_thread_runs_until_the_first_call():
    worker = StrategyThread()
    assert worker.ident is None
    await worker.run(lambda: None)
    assert worker.ident is not None
    worker.close()
