"""Recorder: one ordered writer for the journal, the risk state and trading-state changes.

Everything goes through a single queue, so records land in the order decisions were taken;
the order path awaits its own record (durable before any venue sees the order), broker
events only enqueue theirs. A failed write is reported to `on_failure` (the SafeBroker halts):
once the runtime cannot prove what it did, it must not keep trading.

Group commit: the writer takes everything queued and commits consecutive journal records as
one store call (`append_journal_many`: one write and one fsync, one transaction, one script),
so a burst costs one fsync, not one per record. A waiter is released only when the commit that
covers its record has returned. Records nobody waits for (acknowledgements, fills, marks) may
wait up to `linger` seconds for the next awaited record, so they share its fsync instead of
putting one of their own in front of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ml4t.backtest import Fill, Order

from ml4t_live_core.protocols import StateStore, TradingStateRecord
from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState

log = logging.getLogger("ml4t_live.journal")

Item = JournalRecord | RiskState | TradingStateRecord
Entry = tuple[Item, "asyncio.Future[None] | None"]

#: How long a record nobody waits for may stay in memory hoping to share the next decision's
#: fsync. Nothing depends on such a record before it is written (the broker holds the same
#: facts and reconciliation re-reads them), and a slow disk already keeps records queued far
#: longer; 5 ms covers a strategy's next order in the same bar with room to spare.
LINGER_SECONDS = 0.005
#: Most items one commit takes (bounds one write's size after a long stall).
MAX_BATCH = 1_000


class Recorder:
    """The single ordered writer in front of a `StateStore` (see the module docstring)."""

    def __init__(
        self, store: StateStore | None, *, shadow: bool, on_failure: Callable[[Exception], None],
        linger: float = LINGER_SECONDS,
    ):
        self.store = store
        self.shadow = shadow
        self.linger = linger
        #: Store commits made (one per group of journal records, state save or flag write).
        self.commits = 0
        self._on_failure = on_failure
        self._queue: deque[Entry] = deque()
        self._wake = asyncio.Event()
        self._urgent = 0  # queued items that must not linger: awaited, or not journal records
        self._unfinished = 0
        self._all_done = asyncio.Event()
        self._all_done.set()
        self._closing = False
        self._due = False  # the oldest lingering record has waited long enough
        self._flush_timer: asyncio.TimerHandle | None = None
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.store is not None and self._writer is None:
            loop = asyncio.get_running_loop()
            self._writer = loop.create_task(self._drain(), name="ml4t-journal")

    async def write(self, item: Item) -> None:
        """Persist `item` after everything queued before it; returns once it is durable."""
        if self.store is None:
            return
        if self._writer is None:
            await self._persist([item])
            return
        if self._writer.done():  # cancelled or crashed: nothing would ever write this record
            raise RuntimeError("the journal writer has stopped; the order cannot be recorded")
        done = asyncio.get_running_loop().create_future()
        self._put(item, done, urgent=True)
        await done

    def write_later(self, item: Item) -> None:
        """Queue `item` without waiting (broker events, state snapshots)."""
        if self.store is None:
            return
        if self._writer is None:
            self.start()
        self._put(item, None, urgent=not isinstance(item, JournalRecord))

    async def flush(self) -> None:
        """Write everything queued now (no lingering) and return once it is durable."""
        if self._writer is None or self._writer.done():
            return
        if self._queue:  # only then: a `_due` left set on an empty queue would stop lingering
            self._due = True  # records from arming their timer, leaving them unwritten
            self._wake.set()
        await self._all_done.wait()

    async def close(self) -> None:
        """Write everything queued (no lingering), then stop the writer."""
        if self._writer is None:
            return
        self._closing = True
        self._wake.set()
        drained = asyncio.ensure_future(self._all_done.wait())
        try:
            # A writer cancelled with the rest of the loop's tasks never drains the queue: say
            # what was not written instead of waiting for it forever.
            await asyncio.wait({drained, self._writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._closing = False
        if not drained.done():
            drained.cancel()
            log.error("journal writer stopped with %d record(s) unwritten", len(self._queue))
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        self._writer = None

    def _put(self, item: Item, done: asyncio.Future[None] | None, *, urgent: bool) -> None:
        self._queue.append((item, done))
        self._unfinished += 1
        self._all_done.clear()
        if urgent:
            self._urgent += 1
            self._wake.set()
        elif self._flush_timer is None and not self._due:
            # No wake-up now (the writer sleeps on): a timer bounds how long this one lingers.
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(self.linger, self._linger_over)

    def _linger_over(self) -> None:
        self._flush_timer = None
        self._due = True
        self._wake.set()

    async def _drain(self) -> None:
        while True:
            while not (self._queue and (self._urgent or self._due or self._closing)):
                self._wake.clear()
                await self._wake.wait()
            self._due = False
            if self._flush_timer is not None:
                self._flush_timer.cancel()
                self._flush_timer = None
            batch: list[Entry] = []
            while self._queue and len(batch) < MAX_BATCH:
                entry = self._queue.popleft()
                if entry[1] is not None or not isinstance(entry[0], JournalRecord):
                    self._urgent -= 1
                batch.append(entry)
            self._due = bool(self._queue)  # what MAX_BATCH left behind goes next, no lingering
            try:
                await self._commit(batch)
            finally:
                self._unfinished -= len(batch)
                if not self._unfinished:
                    self._all_done.set()

    async def _commit(self, batch: Sequence[Entry]) -> None:
        """Persist `batch` in order, one store call per run of like items; release each run's
        waiters once its call returned. A failure is reported and fails that run's waiters;
        later runs are still written (the SafeBroker halts on the report)."""
        for run in _runs(batch):
            try:
                await self._persist([item for item, _ in run])
            except Exception as exc:  # any store failure: report, fail the waiters, keep order
                log.error("persistence failed: %s", exc)
                self._on_failure(exc)
                for _, done in run:
                    if done is not None and not done.done():
                        done.set_exception(exc)
            else:
                for _, done in run:
                    if done is not None and not done.done():
                        done.set_result(None)

    async def _persist(self, items: Sequence[Item]) -> None:
        assert self.store is not None
        first = items[0]
        self.commits += 1
        if isinstance(first, JournalRecord):
            records: Any = items
            many = getattr(self.store, "append_journal_many", None)
            if many is not None:
                await many(records)
            else:  # a store without group commit: one durable append per record
                for record in records:
                    await self.store.append_journal(record)
        elif isinstance(first, RiskState):
            newest = items[-1]  # each save replaces the last: keep the newest
            assert isinstance(newest, RiskState)  # runs hold items of one kind
            await self.store.save_state(newest)
        else:
            for record in items:
                await self.store.write_trading_state(record)  # type: ignore[arg-type]

    # --- record builders ---------------------------------------------------------------------
    def order_record(
        self, order: Order, event: JournalEvent, now: datetime, *, reasons: tuple[str, ...] = (),
        fill: Fill | None = None, detail: dict[str, Any] | None = None,
    ) -> JournalRecord:
        return JournalRecord(
            timestamp=fill.timestamp if fill else now, event=event,
            client_order_id=order.order_id, asset=order.asset, side=order.side.value,
            quantity=order.quantity, order_type=order.order_type.value,
            limit_price=order.limit_price, stop_price=order.stop_price,
            fill_price=fill.price if fill else None,
            filled_quantity=fill.quantity if fill else None,
            reasons=reasons, shadow=self.shadow, detail=detail or {},
        )

    def state_change_record(self, state: str, reason: str, since: datetime) -> JournalRecord:
        return JournalRecord(
            timestamp=since, event=JournalEvent.TRADING_STATE, reasons=(reason,),
            shadow=self.shadow, detail={"state": state},
        )


def _runs(batch: Sequence[Entry]) -> list[list[Entry]]:
    """Split `batch` into maximal runs of consecutive items of one kind, in order."""
    runs: list[list[Entry]] = []
    for entry in batch:
        if runs and type(runs[-1][0][0]) is type(entry[0]):
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return runs
