"""Typed settings of the IB plugin: [broker.ib] and [feed.ib]."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.history import DEFAULT_HISTORY_LIMIT

#: TWS paper 7497, IB Gateway paper 4002; TWS live 7496, IB Gateway live 4001.
PAPER_PORTS = frozenset({7497, 4002})
LIVE_PORTS = frozenset({7496, 4001})


class ContractSpec(PluginConfig):
    """How one asset name maps to an IB contract (futures, forex, crypto or a non-default stock).

    Examples: ES = {sec_type="FUT", symbol="ES", exchange="CME", last_trade="202403"};
    "EUR.USD" = {sec_type="CASH", symbol="EUR", currency="USD", exchange="IDEALPRO"};
    BTC = {sec_type="CRYPTO", symbol="BTC", exchange="PAXOS", currency="USD"}.
    """

    sec_type: Literal["STK", "FUT", "CASH", "CRYPTO"] = "STK"
    symbol: str | None = None
    exchange: str | None = None
    currency: str | None = None
    primary_exchange: str = ""
    last_trade: str = ""
    multiplier: str = ""
    local_symbol: str = ""

    @model_validator(mode="after")
    def _future_needs_expiry(self) -> ContractSpec:
        if self.sec_type == "FUT" and not (self.last_trade or self.local_symbol):
            raise ValueError("a FUT contract needs last_trade (YYYYMM[DD]) or local_symbol")
        return self


class IBConfig(PluginConfig):
    """Connection to TWS / IB Gateway. Paper ports by default; a live port needs live = true.

    The account id is read from the environment variable named by `account_env` (never
    from the config file, never logged); empty means the gateway's only managed account.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=4002, ge=1, le=65535)
    client_id: int = Field(default=1, ge=0)
    account_env: str = "IB_ACCOUNT"
    live: bool = False
    exchange: str = "SMART"
    currency: str = "USD"
    #: primary listing per stock symbol, e.g. {"MSFT" = "NASDAQ"} (disambiguates SMART routing)
    primary_exchanges: dict[str, str] = Field(default_factory=dict)
    contracts: dict[str, ContractSpec] = Field(default_factory=dict)
    connect_timeout: float = Field(default=4.0, gt=0, allow_inf_nan=False)
    request_timeout: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    #: how long submit_order waits for IB's acknowledgement or rejection before returning PENDING
    ack_timeout: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    #: an execution whose commission report has not followed within this time is reported
    #: without commission rather than held back (the position change matters more)
    commission_timeout: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    reconnect_attempts: int = Field(default=10, ge=0)
    reconnect_initial_delay: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    reconnect_max_delay: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    #: client-side pacing (IB allows ~50 messages/s; error 100 otherwise)
    max_requests_per_second: int = Field(default=45, ge=1, le=50)
    #: finished orders (with their execution ids) kept to match late or replayed events; open
    #: orders are always kept. Same default as the core's `[runtime] history_limit`.
    finished_order_limit: int = Field(default=DEFAULT_HISTORY_LIMIT, ge=1, strict=True)

    @model_validator(mode="after")
    def _live_port_needs_live(self) -> IBConfig:
        if self.port in LIVE_PORTS and not self.live:
            raise ValueError(
                f"port {self.port} is a live-trading port; set live = true to trade real money "
                f"(paper ports: {sorted(PAPER_PORTS)})"
            )
        return self


class IBFeedConfig(IBConfig):
    """Market data from TWS / IB Gateway ([feed.ib]): 5-second real-time bars per asset, fed
    through the aggregator (`[feed] wrap = ["aggregator"]`) into N-minute bars; historical bars
    of `history_bar_size` for warm-up. Uses its own client id (the broker's default is 1)."""

    client_id: int = Field(default=2, ge=0)
    assets: list[str] = Field(min_length=1)
    #: "realtime_bars": IB's 5-second bars; "ticks": tick-by-tick trades (stamped on arrival,
    #: as ib_async reports them), for the aggregator to build bars from
    source: Literal["realtime_bars", "ticks"] = "realtime_bars"
    what_to_show: Literal["TRADES", "MIDPOINT", "BID", "ASK"] = "TRADES"
    use_rth: bool = False
    #: IB bar size of the warm-up history, e.g. "1 min", "5 mins", "1 hour"
    history_bar_size: str = "1 min"
    #: seconds in one history bar (sets the requested duration)
    history_bar_seconds: int = Field(default=60, ge=1)
    queue_size: int = Field(default=10_000, ge=1)
