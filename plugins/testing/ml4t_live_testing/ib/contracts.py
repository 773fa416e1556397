"""The simulator's contract universe: what reqContractDetails knows, by symbol and security type."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimContract:
    """One listed contract, in the fields the TWS protocol carries."""

    con_id: int
    symbol: str
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = "NASDAQ"
    currency: str = "USD"
    last_trade: str = ""
    multiplier: str = ""
    local_symbol: str = ""
    trading_class: str = ""

    def wire(self, *, exchange: str | None = None) -> list[object]:
        """The 11 contract fields (without primaryExchange) used by position/execution messages."""
        return [
            self.con_id,
            self.symbol,
            self.sec_type,
            self.last_trade,
            0.0,
            "",
            self.multiplier,
            exchange if exchange is not None else self.exchange,
            self.currency,
            self.local_symbol or self.symbol,
            self.trading_class or self.symbol,
        ]


DEFAULT_CONTRACTS: tuple[SimContract, ...] = (
    SimContract(265598, "AAPL"),
    SimContract(272093, "MSFT"),
    SimContract(756733, "SPY", primary_exchange="ARCA"),
    SimContract(495512551, "ES", "FUT", "CME", "", "USD", "20240315", "50", "ESH4", "ES"),
    SimContract(12087792, "EUR", "CASH", "IDEALPRO", "", "USD", "", "", "EUR.USD", "EUR.USD"),
    SimContract(479624278, "BTC", "CRYPTO", "PAXOS", "", "USD", "", "", "BTC.USD", "BTC"),
)


class ContractBook:
    """Look contracts up the way TWS does: by conId, or by symbol + secType (+ currency)."""

    def __init__(self, contracts: tuple[SimContract, ...] = DEFAULT_CONTRACTS):
        self._contracts = list(contracts)

    def add(self, contract: SimContract) -> None:
        self._contracts.append(contract)

    def find(self, con_id: int, symbol: str, sec_type: str, currency: str) -> list[SimContract]:
        if con_id:
            return [c for c in self._contracts if c.con_id == con_id]
        return [
            c
            for c in self._contracts
            if c.symbol == symbol
            and (not sec_type or c.sec_type == sec_type)
            and (not currency or c.currency == currency)
        ]

    def by_symbol(self, symbol: str) -> SimContract:
        for c in self._contracts:
            if c.symbol == symbol or c.local_symbol == symbol:
                return c
        raise KeyError(f"the IB simulator lists no contract {symbol!r}")
