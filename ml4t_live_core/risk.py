"""What risk checks see and return: the order request, the portfolio context, the rejection."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ml4t.backtest import OrderSide, OrderType

    from ml4t_live_core.portfolio import Holding
    from ml4t_live_core.state import RiskState


class TradingState(StrEnum):
    """ACTIVE trades freely; REDUCING only shrinks positions; HALTED sends nothing."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"

    @property
    def severity(self) -> int:
        """0 ACTIVE, 1 REDUCING, 2 HALTED: checks that trip only ever move to a stricter state."""
        return _SEVERITY[self]

    def allows(self, order: OrderRequest) -> bool:
        """Whether an order may be sent in this state: getting out must always stay possible
        (REDUCING lets through orders that shrink a position, HALTED only closes that do)."""
        if self is TradingState.ACTIVE:
            return True
        if self is TradingState.HALTED:
            return order.is_close and order.reduces_position
        return order.reduces_position


_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order as the risk checks see it, after argument validation, before any broker call.

    `quantity` is always positive; `side` gives the direction. `reduces_position` is true when
    the order shrinks an existing position without flipping it (including pending orders).
    For an update (`is_update`), `quantity` is the order's new *remaining* quantity: its filled
    part is already in `position_quantity`, so `projected_position` counts it once.
    """

    asset: str
    side: OrderSide
    quantity: float
    order_type: OrderType
    timestamp: datetime
    client_order_id: str
    limit_price: float | None = None
    stop_price: float | None = None
    trail_amount: float | None = None
    position_quantity: float = 0.0
    reduces_position: bool = False
    is_close: bool = False
    is_update: bool = False

    @property
    def signed_quantity(self) -> float:
        from ml4t.backtest import OrderSide  # loaded by then: `side` is one

        return self.quantity if self.side is OrderSide.BUY else -self.quantity

    @property
    def projected_position(self) -> float:
        return self.position_quantity + self.signed_quantity


@dataclass(frozen=True, slots=True)
class Rejection:
    """One check's objection: its name and a reason with the numbers."""

    check: str
    reason: str

    def __str__(self) -> str:
        return f"{self.check}: {self.reason}"


class RiskContext(Protocol):
    """The portfolio, market and risk state a check reads (the virtual one in shadow mode).

    Called on the event loop; checks must not block or keep references across calls.
    """

    @property
    def now(self) -> datetime: ...

    @property
    def trading_state(self) -> TradingState: ...

    @property
    def risk_state(self) -> RiskState: ...

    def positions(self) -> Mapping[str, Holding]:
        """Open positions (immutable `Holding`s: asset, quantity, entry_price, multiplier)."""
        ...

    def position_quantity(self, asset: str) -> float: ...

    def pending_quantity(self, asset: str, side: OrderSide) -> float: ...

    def cash(self) -> float: ...

    def equity(self) -> float: ...

    def gross_exposure(self) -> float:
        """Sum of |quantity| x last price x multiplier over open positions (kept incrementally)."""
        ...

    def net_exposure(self) -> float: ...

    def last_price(self, asset: str) -> float | None: ...

    def last_bar_time(self, asset: str) -> datetime | None: ...

    def multiplier(self, asset: str) -> float: ...

    def normalize_asset(self, asset: str) -> str: ...

    def watch_account_orders(self, seconds: float) -> bool:
        """Ask for account-wide order counts over `seconds` (`account_orders_within`), read from
        the state store before every order. False when the store is not shared across
        processes: counts are then this process's own."""
        ...

    def account_orders_within(self, seconds: float) -> int | None:
        """Orders every process sharing the state store sent less than `seconds` ago, read just
        before this order's checks (this process's included); None when not watched or shared."""
        ...

    def set_trading_state(self, state: TradingState, reason: str) -> None:
        """Ask the runtime to move to `state`; it is persisted and journaled by the core."""
        ...
