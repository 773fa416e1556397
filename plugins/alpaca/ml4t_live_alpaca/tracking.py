"""What the broker knows about each order it sent: Alpaca ids and cumulative fills per id.

Fills are counted from Alpaca's cumulative `filled_qty`, not from events, so a duplicated
fill event or a fill seen both by the stream and by a reconciling REST poll counts once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ml4t.backtest import Order, OrderSide, OrderType

from ml4t_live_alpaca.mapping import EPSILON


@dataclass(slots=True)
class OrderTrack:
    """One runtime order (client order id) across its Alpaca orders (replacements)."""

    client_order_id: str
    asset: str
    side: OrderSide
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    #: The runtime order's total size (filled so far + still to fill), across replacements.
    quantity: float = 0.0
    alpaca_id: str | None = None
    generation: int = 0
    terminal: bool = False
    #: True while a submit is in flight: a reconciling poll must not judge it yet.
    in_flight: bool = False
    filled: dict[str, float] = field(default_factory=dict)
    avg_price: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, order: Order) -> OrderTrack:
        """A new track for `order`, keyed by its client order id."""
        return cls(
            order.order_id,
            order.asset,
            order.side,
            order.order_type,
            order.limit_price,
            order.stop_price,
            float(order.quantity),
        )

    @property
    def total_filled(self) -> float:
        """Filled over every Alpaca order of this runtime order (each counts its own fills)."""
        return sum(self.filled.values())

    def increment(
        self,
        alpaca_id: str,
        cumulative: float,
        avg_price: float | None,
        event_qty: float | None = None,
        event_price: float | None = None,
    ) -> tuple[float, float] | None:
        """The new execution (quantity, price) implied by Alpaca's cumulative fill, or None if
        nothing new was filled. Prefers the event's own price when it covers exactly the gap."""
        prior = self.filled.get(alpaca_id, 0.0)
        delta = cumulative - prior
        if delta <= EPSILON:
            return None
        if event_qty is not None and event_price is not None and abs(event_qty - delta) <= EPSILON:
            price = event_price
        elif avg_price is not None:
            price = (avg_price * cumulative - self.avg_price.get(alpaca_id, 0.0) * prior) / delta
        elif event_price is not None:
            price = event_price
        else:
            return None
        self.filled[alpaca_id] = cumulative
        if avg_price is not None:
            self.avg_price[alpaca_id] = avg_price
        return delta, price

    def baseline(self, alpaca_id: str, cumulative: float, avg_price: float | None) -> None:
        """Take Alpaca's current fill as already known (it is in the positions synced at start).
        Never lowers what is known: a stream fill may have overtaken the answer carrying
        `cumulative` (a replacement filled before the replace call returned)."""
        if cumulative <= self.filled.get(alpaca_id, 0.0):
            return
        self.filled[alpaca_id] = cumulative
        if avg_price is not None:
            self.avg_price[alpaca_id] = avg_price
