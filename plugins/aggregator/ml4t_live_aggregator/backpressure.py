"""The bounded queue between the aggregator and a slow consumer, with an explicit overflow
policy."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Literal

from ml4t_live_aggregator.stats import AggregatorStats
from ml4t_live_core.protocols import BarEvent

log = logging.getLogger("ml4t_live.aggregator")

Policy = Literal["block", "drop_oldest", "coalesce"]


class QueueClosed(Exception):
    """The producer ended and every queued bar was delivered."""


class BarQueue:
    """At most `limit` bars wait. When full, `put` waits ("block"), discards the oldest bar
    ("drop_oldest") or merges the two oldest into one ("coalesce"); waits, drops and merges are
    counted in `stats`. `close(error)` ends the stream; the consumer sees the error after the
    last bar."""

    def __init__(self, limit: int, policy: Policy, stats: AggregatorStats):
        self.limit, self.policy, self.stats = limit, policy, stats
        self._items: deque[BarEvent] = deque()
        self._changed = asyncio.Condition()
        self._closed = False
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, event: BarEvent) -> None:
        async with self._changed:
            pending: BarEvent | None = event
            if self.policy == "block":
                if len(self._items) >= self.limit and not self._closed:
                    self.stats.blocked_backpressure += 1
                    self.stats.note("backpressure", "consumer is %d bars behind: bar %s waits "
                                    "(and the inner feed with it)", self.limit, event[0])
                await self._changed.wait_for(lambda: len(self._items) < self.limit or self._closed)
            elif len(self._items) >= self.limit:
                pending = self._make_room(event)
            if pending is not None:
                self._items.append(pending)
            self._changed.notify_all()

    def _make_room(self, event: BarEvent) -> BarEvent | None:
        """Free a slot for `event`; returns what still has to be appended (None: merged in)."""
        if self.policy == "drop_oldest":
            dropped = self._items.popleft()
            self.stats.dropped_backpressure += 1
            self.stats.note(
                "backpressure", "consumer is %d bars behind: dropped bar %s", self.limit, dropped[0]
            )
            return event
        self.stats.coalesced_backpressure += 1
        if len(self._items) < 2:  # limit 1: the waiting bar absorbs the new one
            first = self._items.pop()
            self.stats.note(
                "backpressure",
                "consumer is 1 bar behind: merged bar %s into %s",
                first[0],
                event[0],
            )
            self._items.append(coalesce(first, event))
            return None
        first, second = self._items.popleft(), self._items.popleft()
        self._items.appendleft(coalesce(first, second))
        self.stats.note(
            "backpressure",
            "consumer is %d bars behind: merged bar %s into %s",
            self.limit,
            first[0],
            second[0],
        )
        return event

    async def get(self) -> BarEvent:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items) or self._closed)
            if self._items:
                event = self._items.popleft()
                self._changed.notify_all()
                return event
            if self._error is not None:
                raise self._error
            raise QueueClosed

    async def close(self, error: BaseException | None = None) -> None:
        async with self._changed:
            self._closed = True
            self._error = self._error or error
            self._changed.notify_all()


def coalesce(first: BarEvent, second: BarEvent) -> BarEvent:
    """One bar covering two consecutive bars: first open, last close, extremes, summed volume."""
    ts1, data1, ctx1 = first
    ts2, data2, ctx2 = second
    data: dict = {}
    for asset in {**data1, **data2}:
        a, b = data1.get(asset), data2.get(asset)
        if a is None or b is None:
            data[asset] = dict(a or b or {})  # never {}: the asset is in one of them
            continue
        data[asset] = {
            "open": a["open"],
            "high": max(a["high"], b["high"]),
            "low": min(a["low"], b["low"]),
            "close": b["close"],
            "volume": a["volume"] + b["volume"],
        }
    missing = [
        x
        for x in dict.fromkeys([*ctx1.get("missing", ()), *ctx2.get("missing", ())])
        if x not in data
    ]
    context = {
        **ctx2,
        "bar_start": ctx1["bar_start"],
        "missing": missing,
        "coalesced": ctx1.get("coalesced", 1) + ctx2.get("coalesced", 1),
    }
    # The merged bar keeps the label convention: start-labelled -> the first's label, else the
    # second's.
    label = ts1 if ts1 == ctx1["bar_start"] else ts2
    return label, data, context
