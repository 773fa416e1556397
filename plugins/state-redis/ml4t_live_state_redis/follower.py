"""A local copy of the persisted trading state, kept current through pub/sub.

`read_trading_state()` runs before every order, so it must not cost a round trip. Writers
SET the key and PUBLISH the same payload in one script; the follower subscribes first, then
GETs the key, then a listener task applies every message as it arrives. So another
process's change is seen once its message has arrived and been applied, typically within a
millisecond of the writer's return but not at that instant (a busy host can take longer);
that is the "halts within one bar" the design asks for, without a round trip per order. A
store's own write is seen at once, and messages that arrive before its echo are skipped: Redis
orders publishes, so they were published before it and are older (without this, another
process's earlier "resume" could briefly undo our own later halt). If the subscription breaks,
messages may have been missed:
the next read resubscribes and GETs the key again, and fails (never guesses) if Redis is
unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from ml4t_live_core.protocols import TradingStateRecord

log = logging.getLogger("ml4t_live.state.redis")

Decode = Callable[[bytes], TradingStateRecord]
#: Runs one network await with the store's timeout and error mapping (see store.py).
Guard = Callable[[str, Awaitable[Any]], Awaitable[Any]]
#: After this long without a message the listener PINGs the server over the subscription.
PING_AFTER = 1.0


class TradingStateFollower:
    """The trading state as the last message (or GET) said; see the module docstring.

    A subscription can die silently (a half-open TCP connection across hosts), so the listener
    PINGs when idle and the copy is only trusted while the server was heard from within
    `silence_limit` seconds of `monotonic()`; past that, the next read re-subscribes and GETs.
    """

    def __init__(self, client: Redis, key: str, channel: str, decode: Decode, guard: Guard, *,
                 silence_limit: float, monotonic: Callable[[], float] = time.monotonic):
        self._client = client
        self._key, self._channel = key, channel
        self._decode = decode
        self._guard = guard
        self._silence_limit = silence_limit
        self._monotonic = monotonic
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._current: TradingStateRecord | None = None
        #: Set by the listener when it stops trusting its copy (lost link, stray payload).
        self._stale = True
        self._heard = 0.0
        #: Bumped once a (re)subscription is up: a write that began before has no echo to wait for.
        self.generation = 0
        #: Payloads of our own writes whose message has not come back yet, oldest first.
        self._echoes: deque[bytes] = deque()
        self._echo_since = 0.0

    async def current(self) -> TradingStateRecord | None:
        """The latest trading state: started on first use, re-read after a lost link."""
        if not self._stale and self._monotonic() - self._heard > self._silence_limit:
            log.warning("no word from redis on %s for %.1fs; re-subscribing and re-reading %s",
                        self._channel, self._monotonic() - self._heard, self._key)
            self._stale = True
        if self._echoes and self._monotonic() - self._echo_since > self._silence_limit:
            log.warning("our own trading-state write never came back on %s; re-reading %s",
                        self._channel, self._key)
            self._stale = True
        if self._stale:
            await self._restart()
        else:
            # One turn of the loop lets a message that already arrived be applied first.
            await asyncio.sleep(0)
        return self._current

    def wrote(self, record: TradingStateRecord, payload: bytes, generation: int) -> None:
        """Our own write (`payload`, published while `generation` was current): visible at
        once; messages before its echo are older and skipped (see the module docstring)."""
        self._current = record
        if generation == self.generation and not self._stale:
            if not self._echoes:
                self._echo_since = self._monotonic()
            self._echoes.append(payload)

    async def close(self) -> None:
        await self._stop()

    async def _restart(self) -> None:
        """Subscribe, then read the key: a change between the two arrives as a message."""
        await self._stop()
        pubsub = self._client.pubsub()
        try:
            await self._guard("subscribe to trading-state changes", pubsub.subscribe(self._channel))
            current = await self._get()
        except BaseException:
            await _close_quietly(pubsub)
            raise
        # Only writes that start from here on publish to this subscription: their echo comes.
        self.generation += 1
        self._echoes.clear()
        self._pubsub, self._current, self._stale = pubsub, current, False
        self._heard = self._monotonic()
        self._listener = asyncio.get_running_loop().create_task(
            self._listen(pubsub), name="ml4t-redis-trading-state"
        )

    async def _listen(self, pubsub: PubSub) -> None:
        try:
            pinged = self._monotonic()
            while True:
                message = await pubsub.get_message(timeout=PING_AFTER)
                now = self._monotonic()
                if message is not None:
                    self._heard = now  # a message, a pong, a subscribe confirmation: it is alive
                if message is None or message.get("type") != "message":
                    if now - max(self._heard, pinged) >= PING_AFTER:
                        await pubsub.ping()  # answered by a "pong" message on this connection
                        pinged = now
                    continue
                payload = message["data"]
                if self._echoes:
                    if payload == self._echoes[0]:
                        self._echoes.popleft()
                    continue  # ours, or published before our latest write: we hold newer
                try:
                    self._current = self._decode(payload)
                except Exception:  # a stray payload on our channel: trust only the key
                    log.warning("unreadable message on %s; re-reading %s", self._channel, self._key)
                    self._stale = True
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # lost link: the next read resubscribes (or fails closed)
            log.warning("trading-state subscription lost (%s); the next read re-subscribes",
                        type(exc).__name__)
            self._stale = True

    async def _get(self) -> TradingStateRecord | None:
        raw = await self._guard(f"read the trading state {self._key}", self._client.get(self._key))
        return None if raw is None else self._decode(raw)

    async def _stop(self) -> None:
        listener, self._listener = self._listener, None
        pubsub, self._pubsub = self._pubsub, None
        self._stale = True
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        if pubsub is not None:
            await _close_quietly(pubsub)


async def _close_quietly(pubsub: PubSub) -> None:
    with contextlib.suppress(Exception):  # already broken; closing is best effort
        await pubsub.aclose()
