"""A local copy of the persisted trading state, kept current through pub/sub.

`read_trading_state()` runs before every order, so it must not cost a round trip. Writers
SET the key and PUBLISH the same payload in one script; a reader subscribes first, then GETs
the key, then on every read drains whatever messages have already arrived (non-blocking).
Redis delivers a PUBLISH to subscribers before it answers the publisher, so once
`ml4t-live halt` returns, the next read in any other process sees the halt. If the
subscription breaks, messages may have been missed: the follower resubscribes and GETs again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_state_redis.errors import RedisStateUnavailableError

log = logging.getLogger("ml4t_live.state.redis")

Decode = Callable[[bytes], TradingStateRecord]
#: Runs one network await with the store's timeout and error mapping (see store.py).
Guard = Callable[[str, Awaitable[Any]], Awaitable[Any]]


class TradingStateFollower:
    def __init__(self, client: Redis, key: str, channel: str, decode: Decode, guard: Guard):
        self._client = client
        self._key, self._channel = key, channel
        self._decode = decode
        self._guard = guard
        self._pubsub: PubSub | None = None
        self._current: TradingStateRecord | None = None

    async def start(self) -> None:
        """Subscribe, then read the key: a change between the two arrives as a message."""
        pubsub = self._client.pubsub()
        try:
            await self._guard("subscribe to trading-state changes", pubsub.subscribe(self._channel))
            self._current = await self._get()
        except BaseException:
            await pubsub.aclose()
            raise
        self._pubsub = pubsub

    async def current(self) -> TradingStateRecord | None:
        """The latest trading state: started on first use, resubscribed after a lost link."""
        if self._pubsub is None:
            await self.start()
            return self._current
        try:
            await self._guard("read trading-state changes", self._drain())
        except RedisStateUnavailableError as exc:
            log.warning("trading-state subscription lost (%s); resubscribing and re-reading the key",
                        type(exc).__name__)
            await self._drop()
            await self.start()
        return self._current

    def wrote(self, record: TradingStateRecord) -> None:
        """Our own write: visible at once, before its message comes back."""
        self._current = record

    async def close(self) -> None:
        await self._drop()

    async def _drain(self) -> None:
        assert self._pubsub is not None
        stale = False
        while (message := await self._pubsub.get_message(timeout=0)) is not None:
            if message.get("type") != "message":
                continue
            try:
                self._current = self._decode(message["data"])
            except Exception:  # a stray payload on our channel: trust only the key
                stale = True
        if stale:
            self._current = await self._get()

    async def _get(self) -> TradingStateRecord | None:
        raw = await self._guard(f"read the trading state {self._key}", self._client.get(self._key))
        return None if raw is None else self._decode(raw)

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception:  # already broken; closing is best effort
                pass

