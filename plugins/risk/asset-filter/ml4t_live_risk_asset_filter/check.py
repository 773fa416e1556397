"""Allowed / blocked asset lists, matched on symbols normalised the way the runtime does."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext

NAME = "asset-filter"


class AssetFilterConfig(PluginConfig):
    """[risk.asset-filter]

    - `allowed`: when set, only these symbols may be traded (default: not set, any symbol).
    - `blocked`: these symbols may never be traded (default: none). Blocked wins over allowed.

    Symbols are compared after the runtime's normalisation (`context.normalize_asset`, e.g.
    " aapl" and "AAPL" are the same). Close orders are filtered too: a blocked symbol
    cannot be traded at all, so close such positions before blocking it.
    """

    allowed: list[str] | None = None
    blocked: list[str] = []

    @field_validator("allowed", "blocked")
    @classmethod
    def _symbols(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        empty = [s for s in value if not s.strip()]
        if empty:
            raise ValueError("symbols must be non-empty strings")
        return value

    @model_validator(mode="after")
    def _allowed_not_empty(self) -> AssetFilterConfig:
        if self.allowed is not None and not self.allowed:
            raise ValueError(
                "allowed = [] would block every order; remove the key to allow every symbol"
            )
        return self


class AssetFilterCheck:
    """Rejects orders for blocked symbols, or for symbols outside the allowed list."""

    name = NAME

    def __init__(self, config: AssetFilterConfig | None = None):
        self.config = config or AssetFilterConfig()
        # Normalised sets per context normaliser, built once (O(1) per order afterwards).
        self._cache_key: int | None = None
        self._allowed: frozenset[str] | None = None
        self._blocked: frozenset[str] = frozenset()

    def _sets(self, context: RiskContext) -> tuple[frozenset[str] | None, frozenset[str]]:
        if self._cache_key != id(context):
            normalize = context.normalize_asset
            allowed = self.config.allowed
            self._allowed = None if allowed is None else frozenset(map(normalize, allowed))
            self._blocked = frozenset(map(normalize, self.config.blocked))
            self._cache_key = id(context)
        return self._allowed, self._blocked

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        allowed, blocked = self._sets(context)
        asset = context.normalize_asset(order.asset)
        if asset in blocked:
            return Rejection(NAME, f"{asset} is on the blocked list")
        if allowed is not None and asset not in allowed:
            return Rejection(NAME, f"{asset} is not on the allowed list ({len(allowed)} symbols)")
        return None
