"""The contracts plugins implement: async broker, data feed, feed wrapper and state store.

Brokers and feeds are async and run on the engine's event loop. Everything that crosses
between them and the core uses ml4t-backtest's own `Order`, `Position` and `Fill`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import JournalRecord, RiskState, StateSchemaError

if TYPE_CHECKING:  # annotations only: the state commands use this module without ml4t.backtest
    from ml4t.backtest import Fill, Order, OrderStatus, Position

#: One feed event:
#: (timestamp, {asset: {"open":..,"high":..,"low":..,"close":..,"volume":..}}, context)
BarEvent = tuple[datetime, dict[str, dict[str, Any]], dict[str, Any]]


# --- broker events (delivered on the event loop) -------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Account values as the broker reports them, in the account's base currency."""

    cash: float
    equity: float
    buying_power: float
    currency: str = "USD"
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderStatusEvent:
    """The broker changed an order's status (acknowledged, cancelled, rejected...)."""

    client_order_id: str
    status: OrderStatus
    timestamp: datetime
    reason: str | None = None
    broker_order_id: str | None = None
    acknowledged: bool = True


@dataclass(frozen=True, slots=True)
class FillEvent:
    """A (possibly partial) execution; `fill.order_id` is the client order id."""

    fill: Fill
    #: Set when the broker reports the order completely filled with this execution.
    order_complete: bool
    execution_id: str = ""


@dataclass(frozen=True, slots=True)
class AccountEvent:
    snapshot: AccountSnapshot


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """Connectivity changed; while disconnected the runtime refuses new orders."""

    connected: bool
    reason: str = ""


BrokerEvent = OrderStatusEvent | FillEvent | AccountEvent | ConnectionEvent
EventHandler = Callable[[BrokerEvent], None]


@runtime_checkable
class BrokerAdapter(Protocol):
    """An async broker. All methods run on the event loop and must not block it.

    Orders arrive as ml4t-backtest `Order`s whose `order_id` is the runtime's idempotent
    client order id; the adapter sends it to the broker (Alpaca `client_order_id`, IB
    `orderRef`) so a retry or a restart never creates a second order.
    """

    name: str

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    @property
    def is_connected(self) -> bool: ...

    def subscribe(self, handler: EventHandler) -> None:
        """Register the callback that receives every `BrokerEvent`, on the event loop."""
        ...

    async def get_positions(self) -> dict[str, Position]: ...

    async def get_open_orders(self) -> list[Order]: ...

    async def get_account(self) -> AccountSnapshot: ...

    async def submit_order(self, order: Order) -> Order:
        """Send the order; return it with the broker's immediate status (PENDING or REJECTED)."""
        ...

    async def cancel_order(self, client_order_id: str) -> bool: ...

    async def modify_order(self, client_order_id: str, **changes: float) -> bool:
        """Change a working order's `quantity`, `limit_price`, `stop_price` or `trail_amount`.

        `quantity` is the new TOTAL order size (filled so far + still to fill), the meaning of
        `Order.quantity` everywhere in the runtime and of IB's `totalQuantity`. The runtime
        converts the strategy's remaining quantity (ml4t-backtest's meaning) before calling;
        a venue that takes a remaining size (Alpaca's replacement order) subtracts its fills.
        Absent `quantity` means the total is unchanged. False if the order is not working.
        """
        ...

    async def close_position(self, asset: str) -> Order | None: ...

    async def on_bar(self, timestamp: datetime, data: dict[str, dict[str, Any]]) -> None:
        """Market data the engine saw; a simulated broker fills against it, others ignore it."""
        ...

    def get_multiplier(self, asset: str) -> float: ...


@runtime_checkable
class DataFeed(Protocol):
    """An async source of bars: `async for timestamp, data, context in feed`.

    `realtime` is False for replays, so the engine runs its clock on bar time instead of
    wall time (a replayed bar is never 'stale'). `data` may be a plain dict; a feed that can
    build columns in bulk yields a `ml4t_live_core.bars.Bars`, which spares the loop a
    per-asset pass before every `on_data`.
    """

    realtime: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def __aiter__(self) -> AsyncIterator[BarEvent]: ...


class WarmupFeed(Protocol):
    """Optional: a feed that can hand `on_prepare` the last bars for indicator warm-up."""

    async def history(self, bars: int) -> Any: ...


#: Wraps an inner feed into another feed (the aggregator): factory(config, inner, clock=clock)
FeedWrapperFactory = Callable[..., DataFeed]


@dataclass(frozen=True, slots=True)
class TradingStateRecord:
    """The persisted trading state, as another process (or `ml4t-live halt`) left it."""

    state: TradingState
    reason: str
    since: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else None,
        }

    @classmethod
    def from_dict(cls, data: Any) -> TradingStateRecord:
        """Parse strictly; anything unexpected is a `StateSchemaError`."""
        if not isinstance(data, dict) or set(data) != {"state", "reason", "since"}:
            raise StateSchemaError(
                f"trading-state record must have state, reason, since: {data!r:.200}"
            )
        try:
            since = None if data["since"] is None else datetime.fromisoformat(data["since"])
            return cls(TradingState(data["state"]), str(data["reason"]), since)
        except (TypeError, ValueError) as exc:
            raise StateSchemaError(f"bad trading-state record: {exc}") from None


@runtime_checkable
class StateStore(Protocol):
    """Durable risk state and order journal, shared by every process that uses the same
    location. Contract (checked for every backend by `ml4t_live_testing.state_contract`):

    - A missing state is a fresh start (`load_state()` returns None); an unreadable, truncated,
      corrupt or schema-incompatible one raises `StateCorruptError` (backend, location, reset
      command) and is never replaced silently.
    - `load_state().next_client_order_seq` exceeds every sequence already used in the journal
      (any `<prefix>-<digits>` id), so client order ids are never reused after a crash. If the
      journal holds ids but no state was saved yet, a fresh `RiskState` carrying that sequence
      is returned.
    - A torn last journal record (a crash mid-append) was never acknowledged and so never sent:
      it is set aside (kept, never deleted) with a WARNING naming where; corruption before the
      last record is a `StateCorruptError`.
    - Every method may be awaited on the event loop; blocking I/O happens off it.
    """

    backend: str
    location: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def load_state(self) -> RiskState | None: ...

    async def save_state(self, state: RiskState) -> None:
        """Replace the stored state atomically (a reader sees the old or the new one)."""
        ...

    async def append_journal(self, record: JournalRecord) -> None:
        """Durably append one record before returning (the order path waits for it)."""
        ...

    # Optional, and used by the recorder when present (see `GroupCommitJournal`):
    # async def append_journal_many(self, records: Sequence[JournalRecord]) -> None

    async def read_journal(
        self, *, since: datetime | None = None, asset: str | None = None
    ) -> Sequence[JournalRecord]:
        """Records in append order, those at or after `since` and for `asset` when given."""
        ...

    async def read_trading_state(self) -> TradingStateRecord | None:
        """The trading state as persisted now. Cheap: SafeBroker reads it before every order."""
        ...

    async def write_trading_state(self, record: TradingStateRecord) -> None:
        """Persist a trading-state change so every process sharing the store sees it."""
        ...

    async def reset(self) -> list[str]:
        """Start over on purpose (`ml4t-live state reset --confirm`), even from a corrupt store.

        The old bytes are moved aside, never deleted; returns where they were kept. The journal
        is kept unless it is itself corrupt. The new state is HALTED (a person resumes on
        purpose) and its `next_client_order_seq` still exceeds every id known before the reset.
        """
        ...


@runtime_checkable
class SharedOrderLog(Protocol):
    """Optional for a `StateStore` that several processes share (SQLite, Redis): the account's
    recent orders, so a rate limit counts every process's orders, not only its own."""

    async def recent_submissions(self, since: datetime) -> Sequence[datetime]:
        """Timestamps of orders journaled as SUBMITTED (not in shadow mode) at or after `since`
        by every process sharing this store, oldest first. Cheap: read before every order."""
        ...


@runtime_checkable
class GroupCommitJournal(Protocol):
    """Optional on a `StateStore`: append several records with one commit (group commit).

    The recorder hands over every journal record queued at once; a store that can make them
    durable together (one write and one fsync, one transaction, one script call) saves a
    commit per record. Contract: `records` (possibly empty) are appended in order and are all
    durable when the call returns; if it raises, none counts as written. A crash during the
    call may leave a whole-record prefix of them (never a torn record that reads back).
    """

    async def append_journal_many(self, records: Sequence[JournalRecord]) -> None: ...
