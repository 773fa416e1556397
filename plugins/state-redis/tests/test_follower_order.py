"""The trading-state follower never lets an older message undo our own later write.

Redis orders publishes, but which of two processes' messages a follower applies last depends
on when each arrives; that timing cannot be forced with a real server, so these tests hand the
real `TradingStateFollower` a scripted subscription (everything else here is real).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from ml4t_live_state_redis.codec import decode_trading_state, encode_trading_state
from ml4t_live_state_redis.follower import TradingStateFollower

from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.risk import TradingState

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
RESUMED = TradingStateRecord(TradingState.ACTIVE, "manual resume (other process)", T0)
HALTED = TradingStateRecord(TradingState.HALTED, "drawdown (this process)", T0 + timedelta(1))
LATER = TradingStateRecord(TradingState.ACTIVE, "manual resume, later", T0 + timedelta(2))


class ScriptedPubSub:
    """Hands out the messages a test delivers, in order, as redis-py's PubSub would."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.waiting = asyncio.Event()  # set while the listener waits for the next message

    def deliver(self, record: TradingStateRecord) -> None:
        self.messages.put_nowait({"type": "message", "data": encode_trading_state(record)})

    async def drained(self) -> None:
        """Until the listener has taken every delivered message and waits for more."""
        while not (self.messages.empty() and self.waiting.is_set()):
            await asyncio.sleep(0)

    async def subscribe(self, channel: str) -> None:
        return None

    async def get_message(self, timeout: float) -> dict[str, Any] | None:
        self.waiting.set()
        try:
            return await asyncio.wait_for(self.messages.get(), timeout)
        except TimeoutError:
            return None
        finally:
            self.waiting.clear()

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class Client:
    def __init__(self, pubsub: ScriptedPubSub) -> None:
        self._pubsub = pubsub
        self.stored: bytes | None = None
        self.gets = 0

    def pubsub(self) -> ScriptedPubSub:
        return self._pubsub

    async def get(self, key: str) -> bytes | None:
        self.gets += 1
        return self.stored


async def _guard(what: str, call: Any) -> Any:
    return await call


def _follower(pubsub: ScriptedPubSub, client: Client | None = None,
              **options: Any) -> TradingStateFollower:
    return TradingStateFollower(
        client or Client(pubsub), "key", "channel", decode_trading_state,  # type: ignore[arg-type]
        _guard, silence_limit=options.pop("silence_limit", 60.0), **options,
    )


async def test_an_earlier_message_arriving_after_our_write_is_skipped() -> None:
    pubsub = ScriptedPubSub()
    follower = _follower(pubsub)
    try:
        assert await follower.current() is None  # subscribed
        follower.wrote(HALTED, encode_trading_state(HALTED), follower.generation)
        pubsub.deliver(RESUMED)  # published by another process just before our halt
        await pubsub.drained()
        assert await follower.current() == HALTED
        pubsub.deliver(HALTED)  # our own echo: everything after it is newer
        pubsub.deliver(LATER)
        await pubsub.drained()
        assert await follower.current() == LATER
    finally:
        await follower.close()


async def test_a_write_that_began_before_the_subscription_waits_for_no_echo() -> None:
    pubsub = ScriptedPubSub()
    follower = _follower(pubsub)
    try:
        generation = follower.generation  # the write starts before the first read subscribes
        assert await follower.current() is None
        follower.wrote(HALTED, encode_trading_state(HALTED), generation)
        pubsub.deliver(LATER)  # its echo went out before we listened: this one is newer
        await pubsub.drained()
        assert await follower.current() == LATER
    finally:
        await follower.close()


async def test_an_echo_that_never_comes_makes_the_next_read_go_to_redis() -> None:
    pubsub, now = ScriptedPubSub(), [0.0]
    client = Client(pubsub)
    follower = _follower(pubsub, client, silence_limit=5.0, monotonic=lambda: now[0])
    try:
        assert await follower.current() is None and client.gets == 1
        follower.wrote(HALTED, encode_trading_state(HALTED), follower.generation)
        client.stored = encode_trading_state(LATER)  # what the key holds by now
        now[0] = 4.0
        pubsub.deliver(LATER)  # skipped: our echo is still awaited
        await pubsub.drained()
        assert await follower.current() == HALTED and client.gets == 1
        now[0] = 6.0  # past the limit: no longer trusted, re-read
        assert await follower.current() == LATER and client.gets == 2
    finally:
        await follower.close()
