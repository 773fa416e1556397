"""A slow consumer: memory stays bounded and the overflow policy is explicit and counted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from ml4t_live_aggregator.aggregator import AggregatorStats
from ml4t_live_aggregator.backpressure import BarQueue, QueueClosed

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def bar(i: int, price: float | None = None, asset: str = "A"):
    start, end = T0 + timedelta(minutes=i), T0 + timedelta(minutes=i + 1)
    p = float(price if price is not None else 10 + i)
    return (
        start,
        {asset: {"open": p, "high": p + 1, "low": p - 1, "close": p + 0.5, "volume": 10.0}},
        {"bar_start": start, "bar_end": end, "interval": "1min", "missing": []},
    )


async def test_drop_oldest_keeps_the_newest_bars_and_counts_drops():
    stats = AggregatorStats()
    queue = BarQueue(3, "drop_oldest", stats)
    for i in range(10):
        await queue.put(bar(i))
        assert len(queue) <= 3
    assert stats.dropped_backpressure == 7
    assert [(await queue.get())[0] for _ in range(3)] == [
        T0 + timedelta(minutes=i) for i in (7, 8, 9)
    ]


async def test_coalesce_merges_the_oldest_bars_without_losing_volume_or_extremes():
    stats = AggregatorStats()
    queue = BarQueue(2, "coalesce", stats)
    for i in range(5):
        await queue.put(bar(i))
        assert len(queue) <= 2
    assert stats.coalesced_backpressure == 3
    ts, data, ctx = await queue.get()
    assert ts == T0 and ctx["bar_start"] == T0 and ctx["bar_end"] == T0 + timedelta(minutes=4)
    assert ctx["coalesced"] == 4
    assert data["A"] == {"open": 10.0, "high": 14.0, "low": 9.0, "close": 13.5, "volume": 40.0}
    assert (await queue.get())[0] == T0 + timedelta(minutes=4)


async def test_coalesce_keeps_assets_that_traded_in_only_one_of_the_bars():
    queue = BarQueue(1, "coalesce", AggregatorStats())
    await queue.put(bar(0, asset="A"))
    await queue.put(bar(1, asset="B"))
    _, data, ctx = await queue.get()
    assert set(data) == {"A", "B"} and ctx["missing"] == []


async def test_block_makes_the_producer_wait_until_the_consumer_takes_a_bar():
    stats = AggregatorStats()
    queue = BarQueue(2, "block", stats)
    await queue.put(bar(0))
    await queue.put(bar(1))
    assert stats.blocked_backpressure == 0  # room: nothing waited
    producer = asyncio.create_task(queue.put(bar(2)))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not producer.done() and len(queue) == 2
    assert (await queue.get())[0] == T0
    await asyncio.wait_for(producer, 1)
    assert len(queue) == 2 and stats.dropped_backpressure == stats.coalesced_backpressure == 0
    assert stats.blocked_backpressure == 1  # the one put that had to wait


async def test_closed_queue_delivers_what_is_left_then_the_error():
    queue = BarQueue(5, "block", AggregatorStats())
    await queue.put(bar(0))
    await queue.close(RuntimeError("inner feed died"))
    assert (await queue.get())[0] == T0
    try:
        await queue.get()
    except RuntimeError as exc:
        assert "inner feed died" in str(exc)
    else:
        raise AssertionError("the error was swallowed")
    clean = BarQueue(5, "block", AggregatorStats())
    await clean.close()
    try:
        await clean.get()
    except QueueClosed:
        pass
    else:
        raise AssertionError("a closed empty queue must end the stream")
