"""IBGatewaySimulator: an asyncio TWS-protocol server on 127.0.0.1 that tests drive explicitly.

Orders rest until the test says what happens (`fill`, `set_price` crossing a limit/stop,
`reject_next`), the connection can be dropped or silenced, error codes (1100/1102...) emitted,
and `restart()` brings the server back on the same port with its account (orders, executions,
positions, cash) kept, as a real IB Gateway restart does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ml4t_live_core.clock import Clock, ManualClock
from ml4t_live_testing.ib import messages as msg
from ml4t_live_testing.ib.book import GatewayBook, SimExecution, SimOrder, SimPosition
from ml4t_live_testing.ib.contracts import ContractBook
from ml4t_live_testing.ib.matching import Matcher, validate
from ml4t_live_testing.ib.session import GatewaySession


@dataclass(slots=True)
class PlacedOrder:
    """Every placeOrder message received (a modify is a placeOrder with a known id)."""

    order_id: int
    order_ref: str
    modify: bool


class IBGatewaySimulator:
    """A deterministic IB Gateway: the real ib_async client connects to it over a socket."""

    def __init__(
        self,
        *,
        book: GatewayBook | None = None,
        contracts: ContractBook | None = None,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.book = book or GatewayBook()
        self.contracts = contracts or ContractBook()
        self.clock = clock or ManualClock()
        self.host = host
        self.port = port
        self.sessions: list[GatewaySession] = []
        self.answering = True
        self.matcher = Matcher()
        self.placed: list[PlacedOrder] = []
        self.market_data_denied: dict[str, tuple[int, str]] = {}
        self.history: dict[int, list[tuple[str, float, float, float, float, float]]] = {}
        self._server: asyncio.Server | None = None
        self._reject: tuple[int, str] | None = None
        self._reject_modify: tuple[int, str] | None = None
        self._drop_after_order = False
        self._lose_next = False
        #: executions are reported without their commission report (IB sometimes sends it late)
        self.withhold_commissions = False

    @property
    def auto_fill_market(self) -> bool:
        """Market orders fill at once at the last price (default: they wait for `fill`)."""
        return self.matcher.auto_fill_market

    @auto_fill_market.setter
    def auto_fill_market(self, value: bool) -> None:
        self.matcher.auto_fill_market = value

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.answering = True

    async def stop(self) -> None:
        """Stop listening and close every connection; the book is kept for `start()`."""
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            await self._server.wait_closed()
            self._server = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = GatewaySession(self, reader, writer)
        self.sessions.append(session)
        await session.run()

    def forget(self, session: GatewaySession) -> None:
        if session in self.sessions:
            self.sessions.remove(session)

    def epoch(self) -> int:
        return int(self.clock.now().timestamp())

    def connection_time(self) -> str:
        return self.clock.now().strftime("%Y%m%d %H:%M:%S UTC")

    # --- test controls -----------------------------------------------------------------

    def drop_connections(self) -> None:
        """Close every client socket at once (a network cut or a gateway crash)."""
        for session in list(self.sessions):
            session.close()

    def stop_answering(self) -> None:
        """Keep sockets open but ignore every request (a hung gateway)."""
        self.answering = False

    def resume_answering(self) -> None:
        self.answering = True

    def reject_next(self, code: int = 201, text: str = "Order rejected - reason:") -> None:
        """The next new order is rejected with this error code and text."""
        self._reject = (code, text)

    def reject_next_modify(
        self, code: int = 201, text: str = "Order rejected - reason:modification refused"
    ) -> None:
        """The next modification is refused; the order keeps working unchanged (as at IB)."""
        self._reject_modify = (code, text)

    def lose_next_order(self) -> None:
        """Cut the connection as the next new order arrives, before the gateway records it."""
        self._lose_next = True

    def drop_after_next_order(self) -> None:
        """Accept the next new order, then cut the connection before any status is sent."""
        self._drop_after_order = True

    def emit_error(self, code: int, text: str, req_id: int = -1) -> None:
        for session in self.sessions:
            session.send(msg.error(req_id, code, text))

    def deny_market_data(
        self, symbol: str, code: int = 354, text: str = "Requested market data is not subscribed."
    ) -> None:
        self.market_data_denied[symbol] = (code, text)

    def set_history(
        self, symbol: str, bars: list[tuple[str, float, float, float, float, float]]
    ) -> None:
        self.history[self.contracts.by_symbol(symbol).con_id] = list(bars)

    def push_bar(
        self, symbol: str, epoch: int, o: float, h: float, lo: float, c: float, v: float
    ) -> None:
        """Send a 5-second real-time bar to every subscriber of `symbol`, then match orders."""
        con_id = self.contracts.by_symbol(symbol).con_id
        for session in self.sessions:
            for req_id, sub in session.bar_subscriptions.items():
                if sub == con_id:
                    session.send(msg.realtime_bar(req_id, epoch, o, h, lo, c, v))
        self.set_price(symbol, c)

    def push_tick(self, symbol: str, epoch: int, price: float, size: float) -> None:
        """Send a tick-by-tick trade to every tick subscriber of `symbol`, then match orders."""
        con_id = self.contracts.by_symbol(symbol).con_id
        for session in self.sessions:
            for req_id, sub in session.tick_subscriptions.items():
                if sub == con_id:
                    session.send(msg.tick_by_tick_last(req_id, epoch, price, size))
        self.set_price(symbol, price)

    def add_position(self, symbol: str, quantity: float, avg_cost: float) -> None:
        contract = self.contracts.by_symbol(symbol)
        self.book.positions[contract.con_id] = SimPosition(contract, quantity, avg_cost)
        self.book.prices.setdefault(contract.con_id, avg_cost)

    def order(self, ref_or_id: str | int) -> SimOrder:
        if isinstance(ref_or_id, int):
            return self.book.orders[ref_or_id]
        found = self.book.find_ref(ref_or_id)
        if len(found) != 1:
            raise KeyError(f"{len(found)} orders carry orderRef {ref_or_id!r}")
        return found[0]

    def fill(
        self,
        ref_or_id: str | int,
        quantity: float | None = None,
        price: float | None = None,
        *,
        quiet: bool = False,
    ) -> SimExecution:
        """Execute (part of) an order now, at `price` or the last price seen. `quiet` books it
        without telling the clients (messages lost while IB's connectivity was down)."""
        order = self.order(ref_or_id)
        if not order.active:
            raise ValueError(f"order {order.order_id} is {order.status}, not fillable")
        if price is None:
            price = self.book.prices.get(order.contract.con_id)
            if price is None:
                raise ValueError(f"no price known for {order.contract.symbol}; pass price=")
        execution = self.book.book_fill(order, quantity or order.remaining, price, self.epoch())
        if not quiet:
            self._report_fill(execution)
        if order.status == "Filled":
            self._on_filled(order)
        return execution

    def repeat_last_execution(self, ref_or_id: str | int) -> SimExecution:
        """Deliver the order's latest execution (details, status, commission) once more, as a
        late duplicate; the book is unchanged."""
        order = self.order(ref_or_id)
        execution = next(e for e in reversed(self.book.executions) if e.order is order)
        self._report_fill(execution)
        return execution

    def cancel(self, ref_or_id: str | int, reason: str = "", *, with_error: bool = True) -> None:
        """IB cancels a working order on its own (end of day, margin, exchange); without
        `with_error` only the Cancelled status is sent, no error 202."""
        order = self.order(ref_or_id)
        if not order.active:
            raise ValueError(f"order {order.order_id} is {order.status}, not cancellable")
        if with_error:
            self._cancel(order, reason)
        else:
            order.status = "Cancelled"
            self._broadcast(order)

    def deactivate(self, ref_or_id: str | int) -> None:
        """IB turns a working order Inactive without an error message (e.g. a halted contract)."""
        order = self.order(ref_or_id)
        order.status = "Inactive"
        self._broadcast(order)

    def set_price(self, symbol: str, price: float) -> list[SimExecution]:
        """A new last price; fills the resting orders it crosses (limits, stops, trailing stops)."""
        con_id = self.contracts.by_symbol(symbol).con_id
        self.book.prices[con_id] = price
        done = []
        for order in [
            o
            for o in self.book.open_orders()
            if o.contract.con_id == con_id and o.status == "Submitted"
        ]:
            if order.active and self.matcher.crosses(order, price):
                done.append(self.fill(order.order_id, price=self.matcher.fill_price(order, price)))
        return done

    # --- order handling (called by sessions) -------------------------------------------

    def place_order(self, session: GatewaySession, f: list[str]) -> None:
        order_id, order_ref = int(f[1]), f[26]
        existing = self.book.orders.get(order_id)
        self.placed.append(PlacedOrder(order_id, order_ref, existing is not None))
        if existing is not None:
            self._modify(session, existing, f)
            return
        if self._lose_next:
            self._lose_next = False
            self.drop_connections()
            return
        contract = self.contracts.find(int(f[2] or 0), f[3], f[4], f[11])
        if order_id < self.book.next_order_id:
            session.send(msg.error(order_id, 103, "Duplicate order id"))
            return
        self.book.next_order_id = order_id + 1
        if len(contract) != 1:
            session.send(
                msg.error(order_id, 200, "No security definition has been found for the request")
            )
            return
        order = SimOrder(
            order_id=order_id,
            client_id=session.client_id or 0,
            perm_id=self.book.next_perm_id,
            contract=contract[0],
            action=f[16],
            quantity=float(f[17]),
            order_type=f[18],
            lmt_price=float(f[19]) if f[19] else None,
            aux_price=float(f[20]) if f[20] else None,
            tif=f[21],
            order_ref=order_ref,
            parent_id=int(f[28] or 0),
            transmit=f[27] == "1",
            account=f[23] or self.book.account,
        )
        self.book.next_perm_id += 1
        self.book.orders[order_id] = order
        if self._reject is not None:
            code, text = self._reject
            self._reject = None
            order.status = "Inactive"
            session.send(msg.error(order_id, code, text))
            return
        problem = validate(order)
        if problem:
            order.status = "Inactive"
            session.send(msg.error(order_id, 201, f"Order rejected - reason:{problem}"))
            return
        self._activate(order)
        if self._drop_after_order:
            self._drop_after_order = False
            self.drop_connections()
            return
        self._broadcast(order)
        if order.order_type == "MKT" and order.status == "Submitted" and self.auto_fill_market:
            self.fill(order.order_id)

    def cancel_order(self, session: GatewaySession, order_id: int) -> None:
        order = self.book.orders.get(order_id)
        if order is None or not order.active:
            session.send(
                msg.error(
                    order_id, 161, "Cancel attempted when order is not in a cancellable state."
                )
            )
            return
        self._cancel(order, "")

    def _modify(self, session: GatewaySession, order: SimOrder, f: list[str]) -> None:
        if not order.active:
            session.send(msg.error(order.order_id, 104, "Can't modify a filled order."))
            return
        if self._reject_modify is not None:
            code, text = self._reject_modify
            self._reject_modify = None
            session.send(msg.error(order.order_id, code, text))
            return
        quantity = float(f[17])
        if quantity < order.filled:
            session.send(
                msg.error(order.order_id, 201, "Order rejected - reason:quantity below filled")
            )
            return
        order.quantity = quantity
        order.lmt_price = float(f[19]) if f[19] else None
        order.aux_price = float(f[20]) if f[20] else None
        self._broadcast(order)
        price = self.book.prices.get(order.contract.con_id)
        if price is not None and order.status == "Submitted" and self.matcher.crosses(order, price):
            self.fill(order.order_id, price=self.matcher.fill_price(order, price))

    def _activate(self, order: SimOrder) -> None:
        """Transmitted orders work; a transmitted child also transmits its parent and siblings."""
        if not order.transmit:
            order.status = "PreSubmitted"
            return
        family = [order]
        if order.parent_id:
            parent = self.book.orders.get(order.parent_id)
            family += [parent] if parent else []
            family += [
                o
                for o in self.book.orders.values()
                if o.parent_id == order.parent_id and o is not order
            ]
        for member in family:
            working = member.parent_id == 0 or self.book.orders[member.parent_id].status == "Filled"
            member.status = "Submitted" if working else "PreSubmitted"
            if member is not order:
                self._broadcast(member)

    def _on_filled(self, order: SimOrder) -> None:
        for child in [o for o in self.book.open_orders() if o.parent_id == order.order_id]:
            child.status = "Submitted"
            self._broadcast(child)
        if order.parent_id:  # one child filled: the bracket's other leg is cancelled (OCA)
            for sibling in [o for o in self.book.open_orders() if o.parent_id == order.parent_id]:
                self._cancel(sibling, "OCA")

    def _cancel(self, order: SimOrder, reason: str) -> None:
        order.status = "Cancelled"
        for session in self._owners(order):
            session.send(
                msg.error(order.order_id, 202, f"Order Canceled - reason:{reason}"),
                msg.order_status(order),
            )

    # --- sending -----------------------------------------------------------------------

    def _owners(self, order: SimOrder) -> list[GatewaySession]:
        return [s for s in self.sessions if s.client_id in (order.client_id, 0)]

    def _broadcast(self, order: SimOrder) -> None:
        for session in self._owners(order):
            session.send(msg.open_order(order), msg.order_status(order))

    def _report_fill(self, execution: SimExecution) -> None:
        order, book = execution.order, self.book
        for session in self._owners(order):
            session.send(msg.exec_details(-1, execution, book.account), msg.order_status(order))
            if not self.withhold_commissions:
                session.send(msg.commission_report(execution, book.currency))
        for session in self.sessions:
            if session.account_updates:
                session.send_account()
            pos = book.positions.get(order.contract.con_id)
            if pos is not None:
                session.send(msg.position(book.account, pos))
