"""What the broker knows about each order it sent: Alpaca ids and cumulative fills per id.

Fills are counted from Alpaca's cumulative `filled_qty`, not from events, so a duplicated
fill event or a fill seen both by the stream and by a reconciling REST poll counts once.

Bounded for a process that runs for weeks (`Tracks`): open orders are always kept, finished
ones for the `limit` most recent, then forgotten.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
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
    #: every Alpaca order id of this track (the original and its replacements)
    alpaca_ids: list[str] = field(default_factory=list)

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


class Tracks:
    """The broker's tracks by runtime client order id, and Alpaca order id -> client order id.

    Every open track is kept; a finished one stays (so duplicated or late updates still meet
    its cumulative fills) until `limit` tracks finished after it. Then it is forgotten, and its
    client order id joins a window of the `limit` most recently forgotten ids, which the broker
    uses to drop late updates instead of adopting the order again as new (that would count its
    whole fill a second time). Past that window an update is not expected at all: Alpaca does
    not replay trade updates after a reconnect (the broker's reconciliation polls only open and
    still tracked orders), so an update for a finished order comes, if ever, at once, while
    the order is still tracked; the core's execution-id window is a further guard.
    """

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"finished order limit must be a positive integer, got {limit!r}")
        self.limit = limit
        self._tracks: dict[str, OrderTrack] = {}
        self._client_id: dict[str, str] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._forgotten: OrderedDict[str, None] = OrderedDict()

    def get(self, client_order_id: str) -> OrderTrack | None:
        return self._tracks.get(client_order_id)

    def __setitem__(self, client_order_id: str, track: OrderTrack) -> None:
        self._tracks[client_order_id] = track
        self._forgotten.pop(client_order_id, None)

    def values(self) -> Iterator[OrderTrack]:
        return iter(list(self._tracks.values()))

    def client_id(self, alpaca_id: str) -> str | None:
        """The runtime client order id of a tracked Alpaca order id."""
        return self._client_id.get(alpaca_id)

    def link(self, alpaca_id: str, track: OrderTrack) -> None:
        """`alpaca_id` is one of `track`'s Alpaca orders."""
        self._client_id[alpaca_id] = track.client_order_id
        if alpaca_id not in track.alpaca_ids:
            track.alpaca_ids.append(alpaca_id)

    def finish(self, track: OrderTrack) -> None:
        """Mark `track` terminal; forget the oldest finished tracks beyond `limit`."""
        track.terminal = True
        key = track.client_order_id
        if key in self._finished or self._tracks.get(key) is not track:
            return
        self._finished[key] = None
        while len(self._finished) > self.limit:
            oldest, _ = self._finished.popitem(last=False)
            gone = self._tracks.pop(oldest, None)
            for alpaca_id in gone.alpaca_ids if gone is not None else ():
                if self._client_id.get(alpaca_id) == oldest:
                    del self._client_id[alpaca_id]
            self._forgotten[oldest] = None
            if len(self._forgotten) > self.limit:
                self._forgotten.popitem(last=False)

    def forgotten(self, client_order_id: str) -> bool:
        """True for a finished track dropped recently (within the last `limit` forgotten)."""
        return client_order_id in self._forgotten

    def sizes(self) -> dict[str, int]:
        """How much is kept right now (for tests and status)."""
        return {
            "tracks": len(self._tracks),
            "finished": len(self._finished),
            "alpaca_ids": len(self._client_id),
            "fill_records": sum(len(t.filled) for t in self._tracks.values()),
            "forgotten": len(self._forgotten),
        }
