"""SafeBroker: every order passes validation, the risk-check hooks and the journal before a venue.

It lives on the event loop and owns the runtime's view of the account (the shadow portfolio
in shadow mode, a mirror of the broker's otherwise). It is also the `RiskContext` the checks
read. The strategy thread never touches it directly: it goes through `ThreadSafeBrokerWrapper`.

This module holds the class, its start-up, market data and shutdown; the rest is in mixins a
reader finds by name: `safety_orders` (the order path), `safety_events` (what the broker
reports), `safety_state` (trading day, marks, trading state, the `RiskContext` reads).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ml4t_live_core.bars import checked_closes
from ml4t_live_core.book import AccountBook
from ml4t_live_core.clock import Clock
from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.journaling import Recorder
from ml4t_live_core.orders import is_positive_finite
from ml4t_live_core.protocols import BrokerAdapter, StateStore, TradingStateRecord
from ml4t_live_core.reconcile import ReconciliationReport, reconcile
from ml4t_live_core.safety_events import SafetyEvents
from ml4t_live_core.safety_orders import SafetyOrders
from ml4t_live_core.safety_state import SafetyState
from ml4t_live_core.state import RiskState, journal_seq
from ml4t_live_core.stats import RuntimeStats

log = logging.getLogger("ml4t_live.safety")


def default_normalize(asset: str) -> str:
    """Symbols as brokers normalise them: surrounding space removed, upper case."""
    return asset.strip().upper()


class SafeBroker(SafetyOrders, SafetyEvents, SafetyState):
    """The safety layer between the strategy and a venue (real broker or shadow portfolio)."""

    def __init__(
        self,
        broker: BrokerAdapter,
        *,
        hooks: Any,
        runtime: RuntimeConfig,
        clock: Clock,
        store: StateStore | None = None,
        shadow_venue: BrokerAdapter | None = None,
        prefix: str = "ml4t",
        normalize: Callable[[str], str] = default_normalize,
        stats: RuntimeStats | None = None,
    ):
        self.broker = broker
        self.venue: BrokerAdapter = shadow_venue if runtime.shadow and shadow_venue else broker
        self.shadow = runtime.shadow
        if self.shadow and shadow_venue is None:
            raise ValueError("shadow mode needs a shadow venue")
        self.hooks = hooks
        self.runtime = runtime
        self.clock = clock
        self.store = store
        self.prefix = prefix
        self._normalize = normalize
        self.stats = stats or RuntimeStats()
        self._tz = ZoneInfo(runtime.timezone)

        AccountBook.__init__(self, runtime.history_limit)
        self.risk_state = RiskState()
        self.connected = False
        self.recorder = Recorder(store, shadow=self.shadow, on_failure=self._persistence_failed)
        self.reconciliation: ReconciliationReport | None = None
        self._seen_trading_record: TradingStateRecord | None = None
        self._last_mark: datetime | None = None
        self._unpriced: set[str] = set()  # assets whose latest bar had no usable close
        # Account-wide order times (every process sharing the store), read before each order
        # once a check asked for them (`watch_account_orders`).
        self._account_window = 0.0
        self._account_orders: list[datetime] | None = None
        self.venue.subscribe(self._on_event)

    # --- start-up --------------------------------------------------------------------------
    async def start(self) -> None:
        """Load persisted state (fail closed), connect, and adopt the venue's account."""
        if self.store is not None:
            await self.store.open()
            loaded = await self.store.load_state()  # raises StateCorruptError: never reset here
            if loaded is not None:
                self.risk_state = loaded
            self.recorder.start()
            await self._follow_persisted_trading_state()  # a halt left by `ml4t-live halt` holds
        await self.broker.connect()
        if self.venue is not self.broker:
            await self.venue.connect()
            seed = getattr(self.venue, "seed", None)
            if seed is not None:  # the shadow portfolio starts as a copy of the real account
                seed(await self.broker.get_account(), await self.broker.get_positions())
        self.connected = True
        await self.sync_account()
        # before the first bar: what the journal and the broker disagree on
        if self.store is not None:
            records = await self.store.read_journal()  # one read serves both
            self._recount_orders(records)
            self.reconciliation = await reconcile(
                self.store, self.broker, shadow=self.shadow, records=records
            )
            self._adopt(self.reconciliation)

    async def sync_account(self) -> None:
        """Replace the mirror with the venue's positions, open orders and account values."""
        positions = await self.venue.get_positions()
        account = await self.venue.get_account()
        self.ledger.replace_holdings(positions)
        self.ledger.cash = account.cash
        self.buying_power = account.buying_power
        self.prices = {
            **{p.asset: p.current_price for p in positions.values() if p.current_price},
            **self.prices,
        }
        for order in await self.venue.get_open_orders():
            self._orders[order.order_id] = order
            self._publish_pending(order)
        self._recompute_exposure()

    async def stop(self) -> None:
        """Flush journal writes, persist the risk state, disconnect."""
        if self._last_mark is not None:  # close the equity curve at the last bar seen
            self._journal_mark(max(self.bar_times.values(), default=self._last_mark))
        self.recorder.write_later(self.risk_state.copy())
        await self.recorder.close()
        if self.store is not None:
            await self.store.close()
        if self.venue is not self.broker:
            await self.venue.disconnect()
        await self.broker.disconnect()
        self.connected = False

    # --- market data ------------------------------------------------------------------------
    async def on_bar(self, timestamp: datetime, data: dict[str, dict[str, Any]]) -> None:
        """Let the venue fill against the bar, mark to market, roll the day, run bar hooks."""
        await self.venue.on_bar(timestamp, data)
        if self.venue is not self.broker:
            await self.broker.on_bar(timestamp, data)
        closes = checked_closes(data)
        if closes is not None:  # every close checked in bulk: dict updates, no per-asset pass
            self.prices = {**self.prices, **closes}  # copy-on-write: the strategy thread may read
            self.bar_times.update(dict.fromkeys(closes, timestamp))
            if self._unpriced:
                self._unpriced.difference_update(closes)
        else:
            prices = dict(self.prices)
            times = self.bar_times
            for asset, bar in data.items():
                close = bar.get("close")
                if is_positive_finite(close):
                    prices[asset] = float(close)
                    times[asset] = timestamp
                    self._unpriced.discard(asset)
                elif asset not in self._unpriced:  # once per bad stretch, not on every bar
                    self._unpriced.add(asset)
                    log.warning(
                        "bar %s: %s has no usable close (%r); its last price stays, and the "
                        "stale-data check refuses its orders once that price is too old",
                        timestamp.isoformat(),
                        asset,
                        close,
                    )
            self.prices = prices
        self._recompute_exposure()
        await self._follow_or_halt()
        self._roll_day_and_marks(timestamp)
        self.hooks.ml4t_live_on_bar(timestamp=timestamp, data=data, context=self)
        if (
            self._last_mark is None
            or (timestamp - self._last_mark).total_seconds() >= self.runtime.mark_every_seconds
        ):
            self._journal_mark(timestamp)

    def _adopt(self, report: ReconciliationReport) -> None:
        """Track the broker's open orders the journal does not know, so they can be cancelled;
        keep the client-order sequence past their ids too."""
        for order in report.adopted:
            if order.order_id not in self._orders:
                self._orders[order.order_id] = order
                self._publish_pending(order)
            seq = journal_seq(order.order_id)
            if (
                seq is not None
                and seq >= self.risk_state.next_client_order_seq
                and order.order_id.startswith(f"{self.prefix}-")
            ):
                self.risk_state.next_client_order_seq = seq + 1
