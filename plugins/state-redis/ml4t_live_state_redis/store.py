"""RedisStateStore: risk state, order journal (a stream) and trading state in Redis.

Several processes, on one host or many, share one account's keys. Multi-key updates are Lua
scripts (atomic in Redis); every command has a timeout and is never retried blindly (a
retried XADD could journal an order twice), so a lost connection fails the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast, overload
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from ml4t_live_core.errors import StateCorruptError
from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.state import (
    JournalRecord,
    RiskState,
    StateSchemaError,
    decode_state,
    encode_state,
    journal_seq,
    salvage_max_seq,
    state_after_journal,
    state_after_reset,
)
from ml4t_live_state_redis import scripts
from ml4t_live_state_redis.codec import (
    decode_journal_entry,
    decode_trading_state,
    encode_trading_state,
    journal_fields,
)
from ml4t_live_state_redis.config import RedisStateConfig
from ml4t_live_state_redis.errors import RedisStateUnavailableError
from ml4t_live_state_redis.follower import PING_AFTER, TradingStateFollower
from ml4t_live_state_redis.keys import RedisKeys, redact_url, scrub
from ml4t_live_state_redis.recent import RecentSubmissions

log = logging.getLogger("ml4t_live.state.redis")

T = TypeVar("T")
_PAGE = 1_000
_SERVER_FAULTS = ("WRONGTYPE", "CORRUPT")


class RedisStateStore:
    backend = "redis"

    def __init__(
        self, config: RedisStateConfig | None = None, *,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        """`monotonic`: the clock the trading-state follower judges silence by (tests inject it)."""
        self.config = config or RedisStateConfig()
        self._monotonic = monotonic
        url = self.config.url.get_secret_value()
        self._url = url
        self._secrets = _secrets_in(url)
        self.keys = RedisKeys(f"{self.config.namespace}:{self.config.account}")
        self.location = f"{redact_url(url)} keys {self.keys.pattern}"
        self._client: Redis | None = None
        self._follower: TradingStateFollower | None = None
        # Built once: the order path awaits append_journal, so it does no string work.
        self._append_keys = [self.keys.journal, self.keys.max_seq]
        #: A command may have to (re)connect first, so its deadline covers both.
        self._deadline = self.config.timeout + self.config.connect_timeout
        self._append_what = f"append to the journal ({self.keys.journal}, {self.keys.max_seq})"
        self._recent = RecentSubmissions(self.keys.journal)

    # --- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and check the server answers (reads nothing: see `load_state`)."""
        if self._client is not None:
            return
        # Every command is bounded by `_guard` (one deadline for send + reply), so the client's
        # own per-read and per-write socket timeouts would only add two more timers per order.
        # A timed-out command is cancelled, and redis-py then drops that connection.
        client = Redis.from_url(
            self._url, socket_timeout=None, socket_connect_timeout=self.config.connect_timeout,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0), client_name="ml4t-live",
        )
        try:
            await self._guard("connect", client.ping())
            self._append = client.register_script(scripts.APPEND_JOURNAL)
            self._append_many = client.register_script(scripts.APPEND_JOURNAL_MANY)
            self._save = client.register_script(scripts.SAVE_STATE)
            self._write_ts = client.register_script(scripts.WRITE_TRADING_STATE)
            self._snapshot = client.register_script(scripts.SNAPSHOT)
            self._reset = client.register_script(scripts.RESET)
        except BaseException:
            await client.aclose()
            raise
        # The subscription starts at the first read: open() must work on a corrupt store too,
        # so that `state show` and `state reset` can reach it.
        self._client = client
        self._follower = TradingStateFollower(
            client, self.keys.trading_state, self.keys.channel,
            self._decode_trading_state, self._guard,
            silence_limit=3 * PING_AFTER + self._deadline, monotonic=self._monotonic,
        )

    async def close(self) -> None:
        follower, client = self._follower, self._client
        self._follower = self._client = None
        if follower is not None:
            await follower.close()
        if client is not None:
            await client.aclose()

    # --- state -----------------------------------------------------------------------------
    async def load_state(self) -> RiskState | None:
        client = self._opened()
        k = self.keys
        reply = await self._guard(
            "load the state", self._snapshot(keys=[k.state, k.journal, k.max_seq, k.trading_state])
        )
        (state_type, state_raw, journal_type, _, seq_type, seq_raw, ts_type, ts_raw) = reply
        for key, found, expected in (
            (k.state, state_type, b"string"), (k.journal, journal_type, b"stream"),
            (k.max_seq, seq_type, b"string"), (k.trading_state, ts_type, b"string"),
        ):
            if found not in (expected, b"none"):
                raise self._corrupt(
                    f"key {key} holds a {found.decode()}, expected a {expected.decode()}"
                )
        if ts_type == b"string":
            self._decode_trading_state(ts_raw)  # fail closed now, not at the first bar
        state = None
        if state_type == b"string":
            state = self._parse(k.state, decode_state, state_raw)
        if seq_type == b"string":
            max_seq = self._parse(k.max_seq, _parse_seq, seq_raw)
        elif journal_type == b"stream" and await self._guard(
            "count the journal", client.xlen(k.journal)
        ):
            # A journal without its sequence key (written by hand, or the key was removed):
            # derive the sequence from the records rather than risk reusing an id.
            max_seq = _max_seq(await self._read_all())
        else:
            max_seq = None
        return state_after_journal(state, max_seq)

    async def save_state(self, state: RiskState) -> None:
        self._opened()
        await self._guard(
            "save the state", self._save(keys=[self.keys.state], args=[encode_state(state)])
        )

    # --- journal ---------------------------------------------------------------------------
    async def append_journal(self, record: JournalRecord) -> None:
        """Returns once Redis has the record (XADD acknowledged), else raises."""
        self._opened()
        seq = journal_seq(record.client_order_id)
        await self._guard(self._append_what, self._append(
            keys=self._append_keys, args=[journal_fields(record), "" if seq is None else str(seq)]
        ))

    async def append_journal_many(self, records: Sequence[JournalRecord]) -> None:
        """Group commit: every record in one script call (atomic: all or none); returns once
        Redis acknowledged it, else raises."""
        if not records:
            return
        self._opened()
        args: list[bytes | str] = []
        for record in records:
            seq = journal_seq(record.client_order_id)
            args += [journal_fields(record), "" if seq is None else str(seq)]
        await self._guard(self._append_what, self._append_many(keys=self._append_keys, args=args))

    async def read_journal(
        self, *, since: datetime | None = None, asset: str | None = None
    ) -> Sequence[JournalRecord]:
        return [
            r for r in await self._read_all()
            if (since is None or r.timestamp >= since) and (asset is None or r.asset == asset)
        ]

    async def _read_all(self) -> list[JournalRecord]:
        client = self._opened()
        records: list[JournalRecord] = []
        start = "-"
        while True:
            page = await self._journal_page(client, start)
            for entry_id, fields in page:
                records.append(self._parse(f"{self.keys.journal} entry {entry_id.decode()}",
                                           decode_journal_entry, fields))
            if len(page) < _PAGE:
                return records
            start = "(" + page[-1][0].decode()

    async def recent_submissions(self, since: datetime) -> list[datetime]:
        """Times of live orders submitted at or after `since` by every process on this account;
        after the first call only the entries added since are read."""
        return await self._recent.read(self._opened(), self._guard, self._parse_entry, since)

    def _parse_entry(self, entry_id: bytes, fields: dict[bytes, bytes]) -> JournalRecord:
        where = f"{self.keys.journal} entry {entry_id.decode()}"
        return self._parse(where, decode_journal_entry, fields)

    # --- trading state ---------------------------------------------------------------------
    async def read_trading_state(self) -> TradingStateRecord | None:
        """The local copy, brought up to date from messages already received (no round trip):
        another process's change shows once its pub/sub message arrives (see follower.py)."""
        self._opened()
        assert self._follower is not None
        return await self._follower.current()

    async def write_trading_state(self, record: TradingStateRecord) -> None:
        self._opened()
        follower = self._follower
        assert follower is not None
        payload, generation = encode_trading_state(record), follower.generation
        await self._guard(
            "write the trading state",
            self._write_ts(keys=[self.keys.trading_state], args=[payload, self.keys.channel]),
        )
        follower.wrote(record, payload, generation)

    # --- reset -----------------------------------------------------------------------------
    async def reset(self) -> list[str]:
        """Move state, trading state and anything corrupt aside (renamed, never deleted), then
        start HALTED with a sequence past every id known before."""
        client = self._opened()
        k = self.keys
        types = {key: _reply(await self._guard("inspect the keys", client.type(key))).decode()
                 for key in (k.state, k.journal, k.max_seq, k.trading_state)}
        known_seqs: list[int] = []
        move = [key for key in (k.state, k.trading_state) if types[key] != "none"]
        if types[k.state] == "string":
            raw = await self._read_typed("read the state", k.state)
            try:
                known_seqs.append(decode_state(raw).next_client_order_seq - 1)
            except StateSchemaError:  # corrupt: moved aside as it is, its ids still count
                known_seqs.append(salvage_max_seq(raw) or 0)
        if types[k.max_seq] == "string":
            raw = await self._read_typed("read the sequence", k.max_seq)
            try:
                known_seqs.append(_parse_seq(raw))
            except StateSchemaError:
                move.append(k.max_seq)
                known_seqs.append(salvage_max_seq(raw) or 0)
        elif types[k.max_seq] != "none":
            move.append(k.max_seq)
        if types[k.journal] == "stream":
            try:
                known_seqs.append(_max_seq(await self._read_all()) or 0)
            except StateCorruptError:
                move.append(k.journal)
                known_seqs.append(await self._salvage_journal_seq())
        elif types[k.journal] != "none":
            move.append(k.journal)
            # Not a stream: what it holds may still name ids (DUMP keeps short strings verbatim).
            dumped = await self._guard("read the journal key", client.dump(k.journal))
            known_seqs.append(salvage_max_seq(dumped or b"") or 0)
        max_seq = max(known_seqs, default=None)
        now = datetime.now(UTC)
        state = state_after_reset(max_seq, now)
        record = TradingStateRecord(state.trading_state, state.trading_state_reason, now)
        stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
        aside = [k.aside(key, stamp) for key in move]
        follower = self._follower
        assert follower is not None
        payload, generation = encode_trading_state(record), follower.generation
        await self._guard("reset the state", self._reset(
            keys=[*move, *aside, k.state, k.trading_state, k.max_seq],
            args=[len(move), encode_state(state), payload, k.channel,
                  "" if max_seq is None else str(max_seq)],
        ))
        follower.wrote(record, payload, generation)
        log.warning("redis state at %s reset; previous keys kept as %s",
                    self.location, ", ".join(aside) or "nothing")
        return aside

    async def _read_typed(self, what: str, key: str) -> bytes:
        """A string key that TYPE just reported. Gone now means another process changed the
        store under this reset, which must not go on without the ids that key held."""
        raw = _reply(await self._guard(what, self._opened().get(key)))
        if raw is None:
            raise RedisStateUnavailableError(
                f"redis state at {self.location}: could not {what}: {key} disappeared during "
                "the reset (another process reset or changed it); nothing was changed, "
                "run the reset again"
            )
        return raw

    async def _salvage_journal_seq(self) -> int:
        """The highest id mentioned anywhere in a corrupt journal (it is moved aside whole)."""
        client = self._opened()
        best, start = 0, "-"
        while page := await self._journal_page(client, start):
            for _, fields in page:
                best = max([best, *(salvage_max_seq(value) or 0 for value in fields.values())])
            start = "(" + page[-1][0].decode()
        return best

    # --- plumbing --------------------------------------------------------------------------
    async def _journal_page(
        self, client: Redis, start: str
    ) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Up to `_PAGE` journal entries from `start`, as (entry id, fields)."""
        page = await self._guard("read the journal", client.xrange(
            self.keys.journal, min=start, max="+", count=_PAGE
        ))
        # redis-py's types allow str (decoding clients) and None (XCLAIM's deleted entries);
        # our client never decodes and XRANGE always answers a list of (id, fields).
        return cast(list[tuple[bytes, dict[bytes, bytes]]], page)

    def _opened(self) -> Redis:
        if self._client is None:
            raise RuntimeError(f"redis state at {self.location} is not open; call open() first")
        return self._client

    async def _guard(self, what: str, call: Awaitable[T]) -> T:
        """One network await: bounded in time, redis errors turned into the runtime's errors,
        with every secret of the URL scrubbed from the message."""
        try:
            async with asyncio.timeout(self._deadline):
                return await call
        except ResponseError as exc:
            message = scrub(str(exc), self._secrets)
            if message.startswith(_SERVER_FAULTS):
                raise self._corrupt(f"could not {what}: {message}") from None
            raise RedisStateUnavailableError(
                f"redis state at {self.location}: could not {what}: the server answered {message!r}"
            ) from None
        except (RedisError, OSError, TimeoutError) as exc:
            detail = scrub(str(exc), self._secrets) or "no answer in time"
            raise RedisStateUnavailableError(
                f"redis state at {self.location}: could not {what} "
                f"({type(exc).__name__}: {detail}); nothing was acknowledged"
            ) from None

    def _decode_trading_state(self, raw: bytes) -> TradingStateRecord:
        return self._parse(self.keys.trading_state, decode_trading_state, raw)

    def _parse(self, where: str, parse: Any, raw: Any) -> Any:
        try:
            return parse(raw)
        except StateSchemaError as exc:
            raise self._corrupt(f"{where}: {scrub(str(exc), self._secrets)}") from None

    def _corrupt(self, problem: str) -> StateCorruptError:
        return StateCorruptError(self.backend, self.location, problem)


@overload
def _reply(value: bytes | str) -> bytes: ...
@overload
def _reply(value: bytes | str | None) -> bytes | None: ...
def _reply(value: bytes | str | None) -> bytes | None:
    """A reply as the bytes it is: the client is built without decode_responses, so redis-py
    never hands back str here (its types allow it for decoding clients)."""
    assert not isinstance(value, str), "the redis client must not decode responses"
    return value


def _parse_seq(raw: bytes) -> int:
    text = raw.decode(errors="replace")
    if not text.isdigit():
        raise StateSchemaError(f"sequence {text[:40]!r} is not a non-negative integer")
    return int(text)


def _max_seq(records: Sequence[JournalRecord]) -> int | None:
    seqs = (journal_seq(r.client_order_id) for r in records)
    return max((s for s in seqs if s is not None), default=None)


def _secrets_in(url: str) -> tuple[str, ...]:
    """The password in the URL, raw and percent-decoded, and any password= query value."""
    parts = urlsplit(url)
    found = [parts.password]
    found += parse_qs(parts.query).get("password", [])
    found += [unquote(s) for s in found if s]
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))
