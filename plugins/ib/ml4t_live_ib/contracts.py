"""Asset name -> IB contract (stocks by default; futures, forex, crypto as configured), cached."""

from __future__ import annotations

import asyncio

import ib_async

from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_ib.config import ContractSpec, IBConfig


class UnknownContractError(LookupError):
    """IB could not identify the contract for an asset (no definition, or ambiguous)."""


def contract_for(asset: str, config: IBConfig) -> ib_async.Contract:
    """The unqualified contract an asset name stands for."""
    if not asset or not asset.strip():
        raise ValueError("asset name is empty")
    spec = config.contracts.get(asset) or ContractSpec(
        primary_exchange=config.primary_exchanges.get(asset, "")
    )
    symbol = spec.symbol or asset
    currency = spec.currency or config.currency
    if spec.sec_type == "STK":
        return ib_async.Stock(
            symbol,
            spec.exchange or config.exchange,
            currency,
            primaryExchange=spec.primary_exchange,
        )
    if spec.sec_type == "FUT":
        return ib_async.Future(
            symbol,
            spec.last_trade,
            spec.exchange or "",
            localSymbol=spec.local_symbol,
            multiplier=spec.multiplier,
            currency=currency,
        )
    if spec.sec_type == "CASH":
        return ib_async.Forex(pair=symbol + currency, exchange=spec.exchange or "IDEALPRO")
    return ib_async.Crypto(symbol, spec.exchange or "PAXOS", currency)


class ContractCache:
    """Qualifies each asset's contract once per session; maps conIds back to asset names."""

    def __init__(self, ib: ib_async.IB, config: IBConfig):
        self.ib = ib
        self.config = config
        self._by_asset: dict[str, ib_async.Contract] = {}
        self._asset_by_con_id: dict[int, str] = {}
        self._lock = asyncio.Lock()

    async def qualify(self, asset: str) -> ib_async.Contract:
        cached = self._by_asset.get(asset)
        if cached is not None:
            return cached
        async with self._lock:
            if asset in self._by_asset:
                return self._by_asset[asset]
            contract = contract_for(asset, self.config)
            try:
                [result] = await asyncio.wait_for(
                    self.ib.qualifyContractsAsync(contract, returnAll=True),
                    self.config.request_timeout,
                )
            except TimeoutError as exc:
                raise BrokerUnavailableError(
                    f"IB did not answer the contract lookup for {asset!r} "
                    f"within {self.config.request_timeout}s"
                ) from exc
            if result is None:
                raise UnknownContractError(
                    f"IB has no contract definition for asset {asset!r} ({contract})"
                )
            if isinstance(result, list):
                raise UnknownContractError(
                    f"asset {asset!r} is ambiguous at IB ({len(result)} matches); "
                    f"configure [broker.ib.contracts.{asset}] with exchange / primary_exchange"
                )
            self._by_asset[asset] = result
            self._asset_by_con_id[result.conId] = asset
            return result

    def asset_of(self, contract: ib_async.Contract) -> str:
        """The runtime's asset name for a contract IB reports (position, execution, order)."""
        known = self._asset_by_con_id.get(contract.conId)
        if known is not None:
            return known
        for asset, spec in self.config.contracts.items():
            if spec.sec_type == contract.secType and (spec.symbol or asset) == contract.symbol:
                return asset
        return contract.symbol

    def multiplier(self, asset: str) -> float:
        contract = self._by_asset.get(asset)
        text = (contract.multiplier if contract else "") or self._configured_multiplier(asset)
        return float(text) if text else 1.0

    def _configured_multiplier(self, asset: str) -> str:
        spec = self.config.contracts.get(asset)
        return spec.multiplier if spec else ""
