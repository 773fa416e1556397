"""Typed settings of the Alpaca plugin: [broker.alpaca] and [feed.alpaca]."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, field_validator, model_validator

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.history import DEFAULT_HISTORY_LIMIT

TimeInForceName = Literal["day", "gtc", "opg", "cls", "ioc", "fok"]
_LIVE_TRADING_HOST = "api.alpaca.markets"
_PAPER_TRADING_HOST = "paper-api.alpaca.markets"


class AlpacaConnection(PluginConfig):
    """Where Alpaca is and how hard to try. Credentials come from the environment only."""

    #: Paper trading unless set to false on purpose; live trading moves real money.
    paper: bool = True
    #: REST base URL override (a proxy or the local simulator); None uses Alpaca's endpoint.
    base_url: str | None = None
    #: Websocket URL override; None uses Alpaca's endpoint.
    stream_url: str | None = None
    #: Names of the environment variables holding the key id and secret (never the values).
    key_env: str = Field(default="APCA_API_KEY_ID", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    secret_env: str = Field(default="APCA_API_SECRET_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    #: Seconds one HTTP request may take (alpaca-py sets no timeout of its own).
    http_timeout: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    #: Attempts per REST call on a transient failure (HTTP 429/5xx, timeout, connection lost).
    retry_attempts: int = Field(default=4, ge=1, le=20)
    retry_initial_backoff: float = Field(default=0.25, gt=0, allow_inf_nan=False)
    retry_max_backoff: float = Field(default=8.0, gt=0, allow_inf_nan=False)
    #: Reconnect backoff of the websocket streams (exponential, capped).
    reconnect_initial_backoff: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    reconnect_max_backoff: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    #: Seconds to open and authenticate a stream before the attempt counts as failed.
    stream_open_timeout: float = Field(default=10.0, gt=0, allow_inf_nan=False)

    @field_validator("base_url", "stream_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"must be an http(s):// or ws(s):// URL, got {value!r}")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _backoffs(self) -> AlpacaConnection:
        if self.retry_max_backoff < self.retry_initial_backoff:
            raise ValueError("retry_max_backoff must be >= retry_initial_backoff")
        if self.reconnect_max_backoff < self.reconnect_initial_backoff:
            raise ValueError("reconnect_max_backoff must be >= reconnect_initial_backoff")
        return self


class AlpacaBrokerConfig(AlpacaConnection):
    """[broker.alpaca]: orders through Alpaca's trading API and trade-updates stream."""

    #: Time in force of every order (fractional quantities need "day" at Alpaca).
    time_in_force: TimeInForceName = "day"
    #: Finished orders (with their cumulative fills) kept to match late or duplicated
    #: updates; open orders are always kept. Same default as `[runtime] history_limit`.
    finished_order_limit: int = Field(default=DEFAULT_HISTORY_LIMIT, ge=1, strict=True)

    @model_validator(mode="after")
    def _urls_match_paper(self) -> AlpacaBrokerConfig:
        # An override must not quietly turn a paper config into live trading (or the reverse).
        for name in ("base_url", "stream_url"):
            host = urlparse(getattr(self, name) or "").hostname
            if self.paper and host == _LIVE_TRADING_HOST:
                raise ValueError(f"paper = true but {name} is Alpaca's live endpoint ({host}); "
                                 "set paper = false to trade real money")
            if not self.paper and host == _PAPER_TRADING_HOST:
                raise ValueError(f"paper = false but {name} is Alpaca's paper endpoint ({host})")
        return self


class AlpacaFeedConfig(AlpacaConnection):
    """[feed.alpaca]: minute bars from Alpaca's market-data stream, history for warm-up."""

    assets: list[str] = Field(min_length=1)
    #: IEX is free; SIP (all exchanges) needs a paid subscription.
    feed: Literal["iex", "sip"] = "iex"
    #: "bars": Alpaca's minute bars; "trades": every trade as a tick, for the aggregator
    #: (`[feed] aggregate = "..."`) to build bars from.
    source: Literal["bars", "trades"] = "bars"
    #: Seconds to wait for the other assets' bars of a minute before emitting the ones that came.
    bar_wait_seconds: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    #: How far back `history()` looks for warm-up bars (weekends and holidays have none).
    history_lookback_days: int = Field(default=7, ge=1, le=365)

    @field_validator("assets")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        cleaned = [s.strip().upper() for s in value]
        bad = [s for s in cleaned if not s or not s.replace(".", "").replace("/", "").isalnum()]
        if bad:
            raise ValueError(f"not valid symbols: {bad}")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("assets are listed more than once")
        return cleaned
