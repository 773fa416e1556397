"""Recorder: one ordered writer for the journal, the risk state and trading-state changes.

Everything goes through a single queue, so records land in the order decisions were taken;
the order path awaits its own record (durable before any venue sees the order), broker
events only enqueue theirs. A failed write is reported to `on_failure` (the SafeBroker halts):
once the runtime cannot prove what it did, it must not keep trading.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ml4t.backtest import Fill, Order

from ml4t_live_core.protocols import StateStore, TradingStateRecord
from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState

log = logging.getLogger("ml4t_live.journal")

Item = JournalRecord | RiskState | TradingStateRecord


class Recorder:
    def __init__(self, store: StateStore | None, *, shadow: bool, on_failure: Callable[[Exception], None]):
        self.store = store
        self.shadow = shadow
        self._on_failure = on_failure
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[None] | None]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.store is not None and self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain(), name="ml4t-journal")

    async def write(self, item: Item) -> None:
        """Persist `item` after everything queued before it; returns once it is durable."""
        if self.store is None:
            return
        if self._writer is None:
            await self._persist(item)
            return
        if self._writer.done():  # cancelled or crashed: nothing would ever write this record
            raise RuntimeError("the journal writer has stopped; the order cannot be recorded")
        done = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, done))
        await done

    def write_later(self, item: Item) -> None:
        """Queue `item` without waiting (broker events, state snapshots)."""
        if self.store is None:
            return
        if self._writer is None:
            self.start()
        self._queue.put_nowait((item, None))

    async def close(self) -> None:
        """Write everything queued, then stop the writer."""
        if self._writer is None:
            return
        drained = asyncio.ensure_future(self._queue.join())
        # A writer cancelled with the rest of the loop's tasks never drains the queue: say what
        # was not written instead of waiting for it forever.
        await asyncio.wait({drained, self._writer}, return_when=asyncio.FIRST_COMPLETED)
        if not drained.done():
            drained.cancel()
            log.error("journal writer stopped with %d record(s) unwritten", self._queue.qsize())
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        self._writer = None

    async def _drain(self) -> None:
        while True:
            item, done = await self._queue.get()
            try:
                await self._persist(item)
            except Exception as exc:  # any store failure: report, fail the waiter, keep order
                log.error("persistence failed: %s", exc)
                self._on_failure(exc)
                if done is not None and not done.done():
                    done.set_exception(exc)
            else:
                if done is not None and not done.done():
                    done.set_result(None)
            finally:
                self._queue.task_done()

    async def _persist(self, item: Item) -> None:
        assert self.store is not None
        if isinstance(item, JournalRecord):
            await self.store.append_journal(item)
        elif isinstance(item, RiskState):
            await self.store.save_state(item)
        else:
            await self.store.write_trading_state(item)

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
            fill_price=fill.price if fill else None, filled_quantity=fill.quantity if fill else None,
            reasons=reasons, shadow=self.shadow, detail=detail or {},
        )

    def state_change_record(self, state: str, reason: str, since: datetime) -> JournalRecord:
        return JournalRecord(
            timestamp=since, event=JournalEvent.TRADING_STATE, reasons=(reason,),
            shadow=self.shadow, detail={"state": state},
        )
