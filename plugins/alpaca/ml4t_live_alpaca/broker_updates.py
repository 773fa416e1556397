"""Trade-stream events of AlpacaBroker: each update from Alpaca becomes a fill or a status event.

A fill is counted once however often Alpaca reports it (cumulative quantities per order, see
`tracking`); an order this process did not place is adopted and tracked from then on. Nothing
here journals: the runtime's safety layer does that with the events emitted.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import TradeUpdate
from ml4t.backtest import Fill, OrderStatus

from ml4t_live_alpaca.mapping import mappable, opt_float, runtime_client_id, to_status
from ml4t_live_alpaca.tracking import OrderTrack, Tracks
from ml4t_live_core.protocols import BrokerEvent, FillEvent, OrderStatusEvent

log = logging.getLogger("ml4t_live.alpaca")

_ACKNOWLEDGED = {"new", "accepted", "pending_new"}
_ENDED = {"canceled", "expired", "done_for_day"}


class AlpacaUpdates:
    """Mixin of `AlpacaBroker`: maps trade-update stream events onto fills and order status."""

    # Set by `AlpacaBroker.__init__`.
    _tracks: Tracks

    if TYPE_CHECKING:  # defined by `AlpacaBroker` and `AlpacaOrders`

        def _emit(self, event: BrokerEvent) -> None: ...

        def _remember(self, track: OrderTrack, placed: AlpacaOrder) -> None: ...

    # --- stream updates -------------------------------------------------------------------
    def _on_update(self, update: TradeUpdate) -> None:
        alpaca = update.order
        alpaca_id = str(alpaca.id)
        event = update.event.value if hasattr(update.event, "value") else str(update.event)
        client_id = self._tracks.client_id(alpaca_id) or runtime_client_id(alpaca.client_order_id)
        track = self._tracks.get(client_id)
        if track is None:
            if self._tracks.forgotten(client_id):
                # finished and forgotten (every fill counted then): adopting it as new would
                # count its whole cumulative fill again
                log.info(
                    "alpaca: late %s update for finished order %s ignored (no longer tracked)",
                    event,
                    client_id,
                )
                return
            adopted = self._adopt(alpaca)
            if adopted is None:
                return
            track = adopted
        self._tracks.link(alpaca_id, track)
        if event in ("fill", "partial_fill"):
            self._absorb_fill(
                track,
                alpaca,
                update.timestamp,
                str(update.execution_id or ""),
                event_qty=update.qty,
                event_price=update.price,
            )
        elif event in _ACKNOWLEDGED:
            track.alpaca_id = track.alpaca_id or alpaca_id
            self._emit(
                OrderStatusEvent(
                    client_id, OrderStatus.PENDING, update.timestamp, broker_order_id=alpaca_id
                )
            )
        elif event == "replaced":
            if alpaca.replaced_by is not None:
                self._tracks.link(str(alpaca.replaced_by), track)
                track.alpaca_id = str(alpaca.replaced_by)
        elif event in _ENDED and track.alpaca_id in (None, alpaca_id) and not track.terminal:
            self._tracks.finish(track)
            self._emit(
                OrderStatusEvent(
                    client_id,
                    OrderStatus.CANCELLED,
                    update.timestamp,
                    reason=f"alpaca: {event}",
                    broker_order_id=alpaca_id,
                )
            )
        elif event == "rejected" and not track.terminal:
            self._tracks.finish(track)
            self._emit(
                OrderStatusEvent(
                    client_id,
                    OrderStatus.REJECTED,
                    update.timestamp,
                    reason="alpaca rejected the order",
                    broker_order_id=alpaca_id,
                )
            )

    def _absorb_fill(
        self,
        track: OrderTrack,
        alpaca: AlpacaOrder,
        timestamp: datetime,
        execution_id: str,
        *,
        event_qty: float | None = None,
        event_price: float | None = None,
    ) -> None:
        alpaca_id = str(alpaca.id)
        execution = track.increment(
            alpaca_id,
            float(alpaca.filled_qty or 0.0),
            opt_float(alpaca.filled_avg_price),
            event_qty,
            event_price,
        )
        if execution is None:
            log.debug(
                "alpaca: fill for %s already counted (duplicate or reconciled)",
                track.client_order_id,
            )
            return
        quantity, price = execution
        complete = to_status(alpaca.status) is OrderStatus.FILLED
        if complete:
            self._tracks.finish(track)
        fill = Fill(
            order_id=track.client_order_id,
            asset=track.asset,
            side=track.side,
            quantity=quantity,
            price=price,
            timestamp=timestamp,
            order_type=track.order_type.value,
            limit_price=track.limit_price,
            stop_price=track.stop_price,
        )
        self._emit(FillEvent(fill, order_complete=complete, execution_id=execution_id))

    def _adopt(self, alpaca: AlpacaOrder, *, known_filled: bool = False) -> OrderTrack | None:
        """Track an order this process did not place (placed before a restart, or elsewhere);
        None for one it cannot represent (see `mapping.mappable`)."""
        order = mappable(alpaca)
        if order is None:
            return None
        track = OrderTrack.of(order)
        self._tracks[order.order_id] = track
        self._remember(track, alpaca)
        if known_filled:
            track.baseline(
                str(alpaca.id), float(alpaca.filled_qty or 0.0), opt_float(alpaca.filled_avg_price)
            )
        return track

