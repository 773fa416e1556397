"""SafeBroker's risk and trading state, and the `RiskContext` reads the risk checks use.

The trading day and its marks (start-of-day equity, high-water mark, the journaled equity
curve), the order counters recounted after a crash, the halt/resume state shared with other
processes through the store, and the account-wide order window. Kept apart from the order path
(`safety_orders`) and the broker events (`safety_events`) because every check reads it.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ml4t_live_core.book import AccountBook
from ml4t_live_core.clock import Clock, trading_day
from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.journaling import Recorder
from ml4t_live_core.protocols import BrokerAdapter, SharedOrderLog, StateStore, TradingStateRecord
from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState, counters_after_journal
from ml4t_live_core.stats import RuntimeStats

log = logging.getLogger("ml4t_live.safety")  # one logging component for the safety layer


class SafetyState(AccountBook):
    """Mixin of `SafeBroker`: the trading day, marks, trading state and the `RiskContext` reads."""

    # Set by `SafeBroker.__init__`.
    venue: BrokerAdapter
    shadow: bool
    runtime: RuntimeConfig
    clock: Clock
    store: StateStore | None
    prefix: str
    stats: RuntimeStats
    recorder: Recorder
    risk_state: RiskState
    _normalize: Callable[[str], str]
    _tz: ZoneInfo
    _seen_trading_record: TradingStateRecord | None
    _last_mark: datetime | None
    _account_window: float
    _account_orders: list[datetime] | None

    # --- the trading day and its marks ------------------------------------------------------
    def _recount_orders(self, records: Sequence[JournalRecord]) -> None:
        """Order counters from the journal (see `counters_after_journal`): a daily order cap
        must not restart low after a crash."""
        if added := counters_after_journal(self.risk_state, records, self.prefix, self._day_of):
            log.warning("%d orders of %s were journaled but not yet counted in the saved state "
                        "(a crash?); counted now", added, self.risk_state.trading_day)

    def _journal_mark(self, timestamp: datetime) -> None:
        self._last_mark = timestamp
        self.recorder.write_later(
            JournalRecord(
                timestamp=timestamp,
                event=JournalEvent.MARK,
                shadow=self.shadow,
                detail={
                    "equity": self.equity(),
                    "cash": self.ledger.cash,
                    "gross_exposure": self._gross,
                    "net_exposure": self._net,
                    "positions": len(self.ledger.holdings),
                },
            )
        )

    def _roll_day_and_marks(self, timestamp: datetime) -> None:
        equity = self.equity()
        if not math.isfinite(equity):
            # A NaN/inf must not become the persisted day start or peak (the state would no
            # longer load); the drawdown and daily-loss checks fail closed on it instead.
            return
        state = self.risk_state
        day = self._day_of(timestamp)
        changed = False
        if state.trading_day != day:
            state.trading_day = day
            state.start_of_day_equity = equity
            state.orders_today = 0
            changed = True
        if state.high_water_mark is None or equity > state.high_water_mark:
            state.high_water_mark = equity
            changed = True  # a peak lost in a crash would loosen the drawdown limit after restart
        if changed:
            self.recorder.write_later(state.copy())

    def _day_of(self, timestamp: datetime) -> date:
        return trading_day(timestamp, self._tz, self.runtime.trading_day_starts)

    # --- the trading state shared through the store -----------------------------------------
    async def _follow_persisted_trading_state(self) -> None:
        """Pick up a halt/resume written by another process or `ml4t-live halt` (every bar and
        before every order)."""
        if self.store is None:
            return
        record = await self.store.read_trading_state()
        # Act only on a record written since we last looked: an unchanged old ACTIVE flag must
        # never undo a halt this process took itself (persistence failure, a check, or a
        # halt whose own flag write is still queued).
        if record is None or record == self._seen_trading_record:
            return
        first_look = self._seen_trading_record is None
        self._seen_trading_record = record
        if record.state is self.risk_state.trading_state:
            return
        saved_since = self.risk_state.trading_state_since
        if first_look and record.since and saved_since and record.since <= saved_since:
            return  # at start-up, the saved state is newer than the flag: it stands
        log.warning(
            "trading state changed outside this process: %s (%s)", record.state.value, record.reason
        )
        self._apply_trading_state(record.state, record.reason, record.since or self.clock.now())

    async def _follow_or_halt(self) -> str | None:
        """Follow the persisted trading state; if it cannot be read, halt and say why."""
        try:
            await self._follow_persisted_trading_state()
        except Exception as exc:  # an unreadable halt flag: we cannot know, so we do not trade
            self._persistence_failed(exc)
            return f"cannot read the persisted trading state ({exc})"
        return None

    async def _read_account_orders(self) -> str | None:
        assert isinstance(self.store, SharedOrderLog)
        since = self.clock.now() - timedelta(seconds=self._account_window)
        try:
            self._account_orders = sorted(await self.store.recent_submissions(since))
        except Exception as exc:  # unknown count: the rate limit cannot be judged, so no order
            self._account_orders = None
            return f"cannot read the account's recent orders ({exc})"
        return None

    # --- RiskContext -------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def trading_state(self) -> TradingState:
        return self.risk_state.trading_state

    def multiplier(self, asset: str) -> float:
        return self.venue.get_multiplier(asset)

    def normalize_asset(self, asset: str) -> str:
        return self._normalize(asset)

    def watch_account_orders(self, seconds: float) -> bool:
        if not isinstance(self.store, SharedOrderLog):
            return False
        self._account_window = max(self._account_window, seconds)
        return True

    def account_orders_within(self, seconds: float) -> int | None:
        orders = self._account_orders
        if orders is None or seconds > self._account_window:
            return None
        # The same window as a local count: an order exactly `seconds` ago has left it.
        left = self.clock.now() - timedelta(seconds=seconds)
        return len(orders) - bisect.bisect_right(orders, left)

    def set_trading_state(self, state: TradingState, reason: str) -> None:
        if state is self.risk_state.trading_state:
            return
        now = self.clock.now()
        self._apply_trading_state(state, reason, now)
        if self.store is not None:
            self.recorder.write_later(TradingStateRecord(state, reason, now))
            self.recorder.write_later(self.risk_state.copy())

    def _apply_trading_state(self, state: TradingState, reason: str, since: datetime) -> None:
        previous = self.risk_state.trading_state
        self.risk_state.trading_state = state
        self.risk_state.trading_state_reason = reason
        self.risk_state.trading_state_since = since
        self.stats.trading_state = state.value
        log.warning("TRADING STATE %s -> %s: %s", previous.value, state.value, reason)
        self.recorder.write_later(self.recorder.state_change_record(state.value, reason, since))

    def _persistence_failed(self, exc: Exception) -> None:
        # A journal or state write failed: we can no longer prove what we did. Stop trading.
        if self.risk_state.trading_state is not TradingState.HALTED:
            self._apply_trading_state(
                TradingState.HALTED, f"persistence failed: {exc}", self.clock.now()
            )
