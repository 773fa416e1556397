"""The simulated gateway's account: orders, executions, positions and cash that survive restarts."""

from __future__ import annotations

from dataclasses import dataclass, field

from ml4t_live_testing.ib.contracts import SimContract

ACTIVE = ("PreSubmitted", "Submitted")


@dataclass(slots=True)
class SimOrder:
    """An order as the gateway holds it, in TWS terms."""

    order_id: int
    client_id: int
    perm_id: int
    contract: SimContract
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    order_ref: str
    parent_id: int
    transmit: bool
    account: str
    status: str = "PreSubmitted"
    filled: float = 0.0
    avg_price: float = 0.0
    last_fill_price: float = 0.0
    why_held: str = ""

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def sign(self) -> int:
        return 1 if self.action == "BUY" else -1


@dataclass(slots=True)
class SimExecution:
    exec_id: str
    order: SimOrder
    shares: float
    price: float
    time: int
    cum_qty: float
    avg_price: float
    commission: float


@dataclass(slots=True)
class SimPosition:
    contract: SimContract
    quantity: float = 0.0
    avg_cost: float = 0.0


@dataclass(slots=True)
class GatewayBook:
    """Everything a gateway restart keeps (a real account lives at IB, not in the socket)."""

    account: str = "DU1234567"
    cash: float = 1_000_000.0
    currency: str = "USD"
    commission_per_share: float = 0.005
    min_commission: float = 1.0
    next_order_id: int = 1
    next_perm_id: int = 900_000_001
    next_exec: int = 1
    orders: dict[int, SimOrder] = field(default_factory=dict)
    executions: list[SimExecution] = field(default_factory=list)
    positions: dict[int, SimPosition] = field(default_factory=dict)
    prices: dict[int, float] = field(default_factory=dict)
    #: values IB also reports in other currencies / "BASE": (tag, currency) -> value, sent
    #: after the account-currency ones, as a multi-currency account does
    other_currency_values: dict[tuple[str, str], float] = field(default_factory=dict)

    def commission(self, shares: float) -> float:
        return max(self.min_commission, abs(shares) * self.commission_per_share)

    def book_fill(self, order: SimOrder, shares: float, price: float, now: int) -> SimExecution:
        """Apply one execution to the order, the position and cash; return it."""
        if not 0 < shares <= order.remaining + 1e-9:
            raise ValueError(
                f"cannot fill {shares} of order {order.order_id}: {order.remaining} remain"
            )
        order.avg_price = (order.avg_price * order.filled + price * shares) / (
            order.filled + shares
        )
        order.filled += shares
        order.last_fill_price = price
        order.status = "Filled" if order.remaining <= 1e-9 else "Submitted"
        commission = self.commission(shares)
        mult = float(order.contract.multiplier or 1)
        self.cash -= order.sign * shares * price * mult + commission
        pos = self.positions.setdefault(order.contract.con_id, SimPosition(order.contract))
        signed = order.sign * shares
        if pos.quantity == 0 or (pos.quantity > 0) == (signed > 0):
            pos.avg_cost = (pos.avg_cost * abs(pos.quantity) + price * mult * shares) / (
                abs(pos.quantity) + shares
            )
        pos.quantity += signed
        if abs(pos.quantity) < 1e-9:
            pos.quantity, pos.avg_cost = 0.0, 0.0
        self.prices[order.contract.con_id] = price
        execution = SimExecution(
            f"0000e0d5.{self.next_exec:08d}.01.01",
            order,
            shares,
            price,
            now,
            order.filled,
            order.avg_price,
            commission,
        )
        self.next_exec += 1
        self.executions.append(execution)
        return execution

    def net_liquidation(self) -> float:
        value = self.cash
        for con_id, pos in self.positions.items():
            mult = float(pos.contract.multiplier or 1)
            value += pos.quantity * self.prices.get(con_id, pos.avg_cost / mult) * mult
        return value

    def account_values(self) -> dict[str, float]:
        net = self.net_liquidation()
        return {
            "NetLiquidation": net,
            "TotalCashValue": self.cash,
            "AvailableFunds": self.cash,
            "BuyingPower": self.cash,
            "EquityWithLoanValue": net,
        }

    def open_orders(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.active]

    def find_ref(self, order_ref: str) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.order_ref == order_ref]
