"""Reconciliation of AlpacaBroker: catch up with Alpaca's view after the trade stream was down.

Runs each time the stream comes (back) up and in the background after an order got no answer.
Fills and status changes missed meanwhile become events, counted once with those the stream
delivers; at the first sync they are taken as known (the start-up positions contain them).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from alpaca.common.exceptions import APIError
from alpaca.trading.models import Order as AlpacaOrder
from ml4t.backtest import OrderStatus

from ml4t_live_alpaca.mapping import opt_float, runtime_client_id, to_status
from ml4t_live_alpaca.rest import AlpacaRequestError, RestCaller, status_of
from ml4t_live_alpaca.tracking import OrderTrack, Tracks
from ml4t_live_core.clock import Clock
from ml4t_live_core.protocols import AccountEvent, AccountSnapshot, BrokerEvent, OrderStatusEvent

log = logging.getLogger("ml4t_live.alpaca")


class AlpacaReconcile:
    """Mixin of `AlpacaBroker`: brings tracked orders up to Alpaca's view after a drop."""

    # Set by `AlpacaBroker.__init__`.
    _client: Any  # alpaca-py's TradingClient, prepared by `rest.prepare_client`
    _rest: RestCaller
    _tracks: Tracks
    _clock: Clock
    _synced_once: bool
    _fills_emitted: int
    _background: set[asyncio.Task[Any]]

    if TYPE_CHECKING:  # defined by `AlpacaBroker`, `AlpacaUpdates` and `AlpacaOrders`

        async def get_account(self) -> AccountSnapshot: ...

        async def _open_alpaca_orders(self) -> list[AlpacaOrder]: ...

        def _emit(self, event: BrokerEvent) -> None: ...

        def _adopt(
            self, alpaca: AlpacaOrder, *, known_filled: bool = False
        ) -> OrderTrack | None: ...

        def _absorb_fill(
            self,
            track: OrderTrack,
            alpaca: AlpacaOrder,
            timestamp: datetime,
            execution_id: str,
            *,
            event_qty: float | None = None,
            event_price: float | None = None,
        ) -> None: ...

        def _remember(self, track: OrderTrack, placed: AlpacaOrder) -> None: ...

    # --- reconciliation -------------------------------------------------------------------
    async def _reconcile(self, *, emit: bool) -> None:
        """Bring every tracked order up to Alpaca's view. With `emit`, fills and status changes
        missed while the stream was down become events; otherwise (first sync) they are
        taken as known, because the positions synced at start-up already contain them."""
        fills_before = self._fills_emitted
        open_orders = await self._open_alpaca_orders()
        seen: set[str] = set()
        for alpaca in open_orders:
            client_id = self._tracks.client_id(str(alpaca.id)) or runtime_client_id(
                alpaca.client_order_id
            )
            track = self._tracks.get(client_id)
            if track is None and self._tracks.forgotten(client_id):
                log.warning(
                    "alpaca: order %s is open at Alpaca but finished here and is no longer "
                    "tracked; not adopted (check it at Alpaca, cancel it there if unwanted)",
                    client_id,
                )
                continue
            if track is None:
                track = self._adopt(alpaca, known_filled=not emit)
                if track is None:  # not representable, so not one of ours: left alone
                    continue
            seen.add(track.client_order_id)
            self._catch_up(track, alpaca, emit)
        for track in self._tracks.values():
            if track.terminal or track.in_flight or track.client_order_id in seen:
                continue
            current = await self._current(track)
            if current is None:
                self._tracks.finish(track)
                if emit:
                    self._emit(
                        OrderStatusEvent(
                            track.client_order_id,
                            OrderStatus.REJECTED,
                            self._clock.now(),
                            reason="alpaca has no such order: it never arrived",
                        )
                    )
                continue
            self._catch_up(track, current, emit)
        if emit:
            snapshot = await self.get_account()
            if (
                self._fills_emitted == fills_before
            ):  # else the snapshot may predate a fill just applied
                self._emit(AccountEvent(snapshot))

    async def _current(self, track: OrderTrack) -> AlpacaOrder | None:
        """Alpaca's latest order for a track, following replacements."""
        found = (
            await self._rest.call(
                self._find_by_client_id_sync, track.client_order_id, what="order lookup"
            )
            if track.alpaca_id is None
            else await self._rest.call(
                self._client.get_order_by_id, track.alpaca_id, what="order lookup"
            )
        )
        for _ in range(20):
            if found is None or found.replaced_by is None:
                break
            if self._synced_once:
                self._catch_up(track, found, emit=True)
            self._tracks.link(str(found.replaced_by), track)
            found = await self._rest.call(
                self._client.get_order_by_id, str(found.replaced_by), what="order lookup"
            )
        if found is not None:
            self._remember(track, found)
        return found

    def _find_by_client_id_sync(self, client_order_id: str) -> AlpacaOrder | None:
        try:
            return self._client.get_order_by_client_id(client_order_id)
        except APIError as exc:
            if status_of(exc) == 404:
                return None
            raise

    def _catch_up(self, track: OrderTrack, alpaca: AlpacaOrder, emit: bool) -> None:
        if not emit:
            track.baseline(
                str(alpaca.id), float(alpaca.filled_qty or 0.0), opt_float(alpaca.filled_avg_price)
            )
            return
        alpaca_id = str(alpaca.id)
        self._absorb_fill(
            track,
            alpaca,
            alpaca.updated_at or self._clock.now(),
            f"reconcile:{alpaca_id}:{alpaca.filled_qty}",
        )
        status = to_status(alpaca.status)
        if (
            status in (OrderStatus.CANCELLED, OrderStatus.REJECTED)
            and alpaca.replaced_by is None
            and not track.terminal
        ):
            self._tracks.finish(track)
            self._emit(
                OrderStatusEvent(
                    track.client_order_id,
                    status,
                    alpaca.updated_at or self._clock.now(),
                    reason=f"alpaca: {alpaca.status.value} (found by reconciliation)",
                    broker_order_id=alpaca_id,
                )
            )

    async def _reconcile_soon(self) -> None:
        try:
            await self._reconcile(emit=True)
        except AlpacaRequestError as exc:
            log.error(
                "alpaca: reconciliation failed (%s); it runs again on the next reconnect", exc
            )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
