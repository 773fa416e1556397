"""One client connection to the simulated gateway: handshake, then request -> response dispatch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ml4t_live_testing.ib import messages as msg
from ml4t_live_testing.ib.wire import (
    SERVER_VERSION,
    ProtocolError,
    frame,
    read_frame,
    read_handshake,
)

if TYPE_CHECKING:
    from ml4t_live_testing.ib.gateway import IBGatewaySimulator

log = logging.getLogger(__name__)


class GatewaySession:
    """Speaks for the gateway on one socket; the gateway owns all state."""

    def __init__(
        self,
        gateway: IBGatewaySimulator,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ):
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.account_updates = False
        #: reqRealTimeBars / reqTickByTickData subscriptions: request id -> conId
        self.bar_subscriptions: dict[int, int] = {}
        self.tick_subscriptions: dict[int, int] = {}

    def send(self, *messages: Iterable[object]) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(b"".join(frame(fields) for fields in messages))

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

    async def run(self) -> None:
        try:
            low, high = await read_handshake(self.reader)
            if not low <= SERVER_VERSION <= high:
                raise ProtocolError(
                    f"client speaks v{low}..{high}, simulator speaks {SERVER_VERSION}"
                )
            self.send([SERVER_VERSION, self.gateway.connection_time()])
            while True:
                fields = await read_frame(self.reader)
                if self.gateway.answering:
                    self.handle(fields)
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except ProtocolError as exc:
            log.warning("IB simulator: %s", exc)
        finally:
            self.close()
            self.gateway.forget(self)

    def handle(self, fields: list[str]) -> None:
        try:
            handler = self._handlers().get(int(fields[0]))
            if handler is None:
                log.debug("IB simulator ignores message %s", fields[0])
                return
            handler(fields)
        except (ValueError, IndexError) as exc:  # TWS answers a malformed request with 320
            log.warning("IB simulator: malformed request %r: %s", fields[:3], exc)
            self.send(msg.error(-1, 320, f"Server error when reading an API client request: {exc}"))

    def _handlers(self):
        gw = self.gateway
        return {
            71: self._start_api,
            61: lambda f: self.send(
                *[msg.position(gw.book.account, p) for p in gw.book.positions.values()],
                msg.position_end(),
            ),
            5: lambda f: self._open_orders(),
            99: lambda f: self._completed_orders(),
            6: self._account_updates,
            76: self._account_updates_multi,
            7: self._executions,
            9: self._contract_details,
            3: lambda f: gw.place_order(self, f),
            4: lambda f: gw.cancel_order(self, int(f[2])),
            8: lambda f: self.send(msg.next_valid_id(gw.book.next_order_id)),
            49: lambda f: self.send(msg.current_time(gw.epoch())),
            50: self._realtime_bars,
            51: lambda f: self.bar_subscriptions.pop(int(f[2]), None),
            20: self._historical_data,
            97: self._ticks,
            98: lambda f: self.tick_subscriptions.pop(int(f[1]), None),
        }

    def _start_api(self, fields: list[str]) -> None:
        client_id = int(fields[2])
        if any(s.client_id == client_id for s in self.gateway.sessions if s is not self):
            self.send(
                msg.error(
                    -1, 326, f"Unable to connect as the client id {client_id} is already in use."
                )
            )
            self.close()
            return
        self.client_id = client_id
        self.send(
            msg.managed_accounts(self.gateway.book.account),
            msg.next_valid_id(self.gateway.book.next_order_id),
        )

    def _open_orders(self) -> None:
        mine = [
            o
            for o in self.gateway.book.open_orders()
            if o.client_id == self.client_id or self.client_id == 0
        ]
        for order in mine:
            self.send(msg.open_order(order), msg.order_status(order))
        self.send(msg.open_order_end())

    def _completed_orders(self) -> None:
        done = [o for o in self.gateway.book.orders.values() if not o.active]
        self.send(*[msg.completed_order(o) for o in done], msg.completed_orders_end())

    def _account_updates(self, fields: list[str]) -> None:
        self.account_updates = fields[2] == "1"
        if self.account_updates:
            self.send_account()
            self.send(msg.account_download_end(self.gateway.book.account))

    def send_account(self) -> None:
        book = self.gateway.book
        for key, value in book.account_values().items():
            self.send(msg.account_value(key, value, book.currency, book.account))
        for (key, currency), value in book.other_currency_values.items():
            self.send(msg.account_value(key, value, currency, book.account))
        for pos in book.positions.values():
            self.send(msg.portfolio(book, pos))
        self.send(msg.account_time("14:30"))

    def _account_updates_multi(self, fields: list[str]) -> None:
        req_id, book = int(fields[2]), self.gateway.book
        for key, value in book.account_values().items():
            self.send(msg.account_update_multi(req_id, book.account, key, value, book.currency))
        for (key, currency), value in book.other_currency_values.items():
            self.send(msg.account_update_multi(req_id, book.account, key, value, currency))
        self.send(msg.account_update_multi_end(req_id))

    def _executions(self, fields: list[str]) -> None:
        req_id, book = int(fields[2]), self.gateway.book
        for execution in book.executions:
            self.send(msg.exec_details(req_id, execution, book.account))
        self.send(msg.exec_details_end(req_id))
        for execution in book.executions:
            self.send(msg.commission_report(execution, book.currency))

    def _contract_details(self, fields: list[str]) -> None:
        req_id = int(fields[2])
        con_id, symbol, sec_type, currency = int(fields[3] or 0), fields[4], fields[5], fields[12]
        found = self.gateway.contracts.find(con_id, symbol, sec_type, currency)
        if not found:
            self.send(
                msg.error(req_id, 200, "No security definition has been found for the request")
            )
            return
        self.send(
            *[msg.contract_details(req_id, c) for c in found], msg.contract_details_end(req_id)
        )

    def _market_data_check(self, req_id: int, symbol: str) -> int | None:
        try:
            contract = self.gateway.contracts.by_symbol(symbol)
        except KeyError:
            self.send(
                msg.error(req_id, 200, "No security definition has been found for the request")
            )
            return None
        denied = self.gateway.market_data_denied.get(symbol)
        if denied is not None:
            self.send(msg.error(req_id, denied[0], denied[1]))
            return None
        return contract.con_id

    def _realtime_bars(self, fields: list[str]) -> None:
        req_id = int(fields[2])
        con_id = self._market_data_check(req_id, fields[4])
        if con_id is not None:
            self.bar_subscriptions[req_id] = con_id

    def _ticks(self, fields: list[str]) -> None:
        req_id = int(fields[1])
        con_id = self._market_data_check(req_id, fields[3])
        if con_id is not None:
            self.tick_subscriptions[req_id] = con_id

    def _historical_data(self, fields: list[str]) -> None:
        req_id = int(fields[1])
        con_id = self._market_data_check(req_id, fields[3])
        if con_id is not None:
            self.send(msg.historical_data(req_id, self.gateway.history.get(con_id, [])))
