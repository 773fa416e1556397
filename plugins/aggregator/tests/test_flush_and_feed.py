"""The feed wrapper: stuck-bar flush on an injected clock, end of stream, inner-feed failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ml4t_live_aggregator import AggregatingFeed, AggregatorConfig, BarAggregator

from ml4t_live_core.clock import ManualClock
from ml4t_live_core.protocols import BarEvent

T0 = datetime(2024, 3, 4, 20, 59, tzinfo=UTC)  # the last minute of a US session


class LiveQueueFeed:
    """A realtime inner feed the test pushes events into."""

    realtime = True

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True
        await self.queue.put(None)

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        while (event := await self.queue.get()) is not None:
            if isinstance(event, Exception):
                raise event
            yield event


class ManualSleeper:
    """`sleep` for the flush timer: returns only when the test moves the ManualClock past it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waiters: list[tuple[datetime, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        entry = (self.clock.now() + timedelta(seconds=seconds), future)
        self.waiters.append(entry)
        try:
            await future
        finally:
            self.waiters.remove(entry)

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        for when, future in list(self.waiters):
            if when <= self.clock.now() and not future.done():
                future.set_result(None)
        await settle()


async def next_bar(feed: AggregatingFeed) -> BarEvent:
    """The next bar; the timeout only fires if the test is broken (it never waits when passing)."""
    return await asyncio.wait_for(anext(aiter(feed)), 5)


async def settle() -> None:
    """Let every ready task run (the pump and the timer) without real time passing."""
    for _ in range(20):
        await asyncio.sleep(0)


def tick(price: float, size: float = 1.0) -> dict[str, float]:
    return {"price": price, "size": size}


@pytest.fixture
async def live():
    clock = ManualClock(T0)
    sleeper = ManualSleeper(clock)
    inner = LiveQueueFeed()
    feed = AggregatingFeed(
        AggregatorConfig(interval="1min", flush_after=2.0), inner, clock=clock, sleep=sleeper.sleep
    )
    await feed.start()
    yield feed, inner, clock, sleeper
    await feed.stop()


async def test_stuck_bar_is_flushed_once_after_flush_after_on_the_clock(live):
    feed, inner, clock, sleeper = live
    await sleeper.advance(10)
    await inner.queue.put((T0 + timedelta(seconds=10), {"AAA": tick(10.0)}, {}))
    await sleeper.advance(30)
    await inner.queue.put((T0 + timedelta(seconds=40), {"AAA": tick(12.0, 3)}, {}))
    await settle()
    await sleeper.advance(21.9)  # 1.9 s past the bar end: not yet
    assert feed.waiting == 0
    await sleeper.advance(0.1)
    assert feed.waiting == 1
    ts, data, context = await next_bar(feed)
    assert ts == T0 and context["bar_end"] == T0 + timedelta(minutes=1)
    assert data == {"AAA": {"open": 10.0, "high": 12.0, "low": 10.0, "close": 12.0, "volume": 4.0}}
    assert feed.stats.flushed_by_timer == 1

    await sleeper.advance(3600)
    assert await feed.poll() == 0
    await inner.queue.put(
        (T0 + timedelta(seconds=59), {"AAA": tick(99.0)}, {})
    )  # arrives after the flush
    await settle()
    assert feed.waiting == 0 and feed.stats.late == 1 and feed.stats.bars_emitted == 1


async def test_timer_rearms_when_a_tick_opens_a_new_bar(live):
    feed, inner, clock, sleeper = live
    await settle()
    assert sleeper.waiters == []  # nothing pending: the timer waits for a tick, not for time
    await inner.queue.put((T0 + timedelta(seconds=5), {"AAA": tick(10.0)}, {}))
    await settle()
    assert [when for when, _ in sleeper.waiters] == [T0 + timedelta(seconds=62)]
    await sleeper.advance(62)
    assert feed.waiting == 1


async def test_a_later_tick_completes_the_bar_before_the_timer(live):
    feed, inner, clock, sleeper = live
    await inner.queue.put((T0 + timedelta(seconds=5), {"AAA": tick(10.0)}, {}))
    clock.advance(60)  # the timer's sleep (deadline T0 + 62 s) is not released
    await inner.queue.put((T0 + timedelta(seconds=60), {"AAA": tick(11.0)}, {}))
    await settle()
    assert feed.waiting == 1 and feed.stats.flushed_by_timer == 0


async def test_live_feed_end_discards_a_partial_bar_and_ends_iteration(live):
    feed, inner, clock, sleeper = live
    await inner.queue.put((T0 + timedelta(seconds=5), {"AAA": tick(10.0)}, {}))
    await inner.queue.put(None)
    events = [e async for e in feed]
    assert events == [] and feed.stats.partial_discarded == 1


async def test_inner_feed_failure_reaches_the_consumer_after_the_bars_before_it(live):
    feed, inner, clock, sleeper = live
    clock.advance(65)
    await inner.queue.put((T0 + timedelta(seconds=5), {"AAA": tick(10.0)}, {}))
    await inner.queue.put((T0 + timedelta(seconds=65), {"AAA": tick(10.0)}, {}))
    await inner.queue.put(ConnectionError("feed lost"))
    iterator = aiter(feed)
    assert (await asyncio.wait_for(anext(iterator), 5))[0] == T0
    with pytest.raises(ConnectionError, match="feed lost"):
        await asyncio.wait_for(anext(iterator), 5)


async def test_stop_ends_iteration_and_stops_the_inner_feed(live):
    feed, inner, clock, sleeper = live
    consumer = asyncio.create_task(anext(aiter(feed), "ended"))
    await settle()
    await feed.stop()
    assert await asyncio.wait_for(consumer, 5) == "ended" and inner.stopped


def test_poll_flushes_the_final_bar_exactly_once():
    agg = BarAggregator(AggregatorConfig(interval="5min", flush_after=1.5))
    agg.add_event(T0, {"AAA": tick(1.0)})
    end = datetime(2024, 3, 4, 21, 0, tzinfo=UTC)
    assert agg.next_deadline() == end + timedelta(seconds=1.5)
    assert agg.poll(end + timedelta(seconds=1.4)) == []
    flushed = agg.poll(end + timedelta(seconds=1.5))
    assert len(flushed) == 1 and flushed[0][2]["bar_end"] == end
    assert agg.poll(end + timedelta(hours=1)) == [] and agg.finish() == []
    assert agg.next_deadline() is None and agg.stats.bars_emitted == 1


async def test_a_polars_frame_of_ticks_takes_the_batch_path(live):
    import polars as pl

    feed, inner, clock, sleeper = live
    frame = pl.DataFrame(
        {
            "timestamp": [T0 + timedelta(seconds=s) for s in (1, 2, 61)],
            "asset": ["AAA"] * 3,
            "price": [10.0, 11.0, 12.0],
            "size": [1.0, 2.0, 3.0],
        }
    )
    clock.advance(61)
    await inner.queue.put((T0 + timedelta(seconds=61), frame, {}))
    await settle()
    ts, data, _ = await next_bar(feed)
    assert ts == T0 and data["AAA"] == {
        "open": 10.0,
        "high": 11.0,
        "low": 10.0,
        "close": 11.0,
        "volume": 3.0,
    }


async def test_live_feed_rejects_ticks_stamped_far_ahead_of_the_clock(live):
    feed, inner, clock, sleeper = live
    await inner.queue.put((T0 + timedelta(hours=3), {"AAA": tick(10.0)}, {}))
    await inner.queue.put((T0 + timedelta(seconds=5), {"AAA": tick(11.0)}, {}))
    await settle()
    assert feed.stats.rejected == 1 and feed.stats.late == 0 and feed.waiting == 0
