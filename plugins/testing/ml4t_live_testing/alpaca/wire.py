"""Alpaca's wire shapes: the JSON the REST API and trading stream send, the msgpack bars.

Field names and string-encoded numbers follow Alpaca's v2 API, so alpaca-py's own models
(`Order`, `Position`, `TradeAccount`, `TradeUpdate`, `Bar`) parse them unchanged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgpack

from ml4t_live_testing.alpaca.book import SimAccount, SimOrder, SimPosition, TradeEvent

ACCOUNT_ID = "8f0b9e53-0000-4000-8000-00000000a1ca"


def _num(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def asset_id(symbol: str) -> str:
    """A stable asset id per symbol, as Alpaca's are."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-sim/{symbol}"))


def order_json(order: SimOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": _ts(order.created_at),
        "updated_at": _ts(order.updated_at or order.created_at),
        "submitted_at": _ts(order.created_at),
        "filled_at": _ts(order.filled_at),
        "expired_at": _ts(order.expired_at),
        "canceled_at": _ts(order.canceled_at),
        "failed_at": _ts(order.failed_at),
        "replaced_at": _ts(order.replaced_at),
        "replaced_by": order.replaced_by,
        "replaces": order.replaces,
        "asset_id": asset_id(order.symbol),
        "symbol": order.symbol,
        "asset_class": "us_equity",
        "notional": None,
        "qty": _num(order.qty),
        "filled_qty": _num(order.filled_qty),
        "filled_avg_price": _num(order.filled_avg_price),
        "order_class": "simple",
        "order_type": order.type,
        "type": order.type,
        "side": order.side,
        "time_in_force": order.time_in_force,
        "limit_price": _num(order.limit_price),
        "stop_price": _num(order.stop_price),
        "status": order.status,
        "extended_hours": False,
        "legs": None,
        "trail_percent": _num(order.trail_percent),
        "trail_price": _num(order.trail_price),
        "hwm": _num(order.hwm),
        "position_intent": None,
    }


def position_json(symbol: str, position: SimPosition, price: float | None) -> dict[str, Any]:
    price = price if price is not None else position.avg_entry_price
    cost = position.qty * position.avg_entry_price
    value = position.qty * price
    return {
        "asset_id": asset_id(symbol),
        "symbol": symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "asset_marginable": True,
        "avg_entry_price": _num(position.avg_entry_price),
        "qty": _num(position.qty),
        "qty_available": _num(position.qty),
        "side": "long" if position.qty > 0 else "short",
        "market_value": _num(value),
        "cost_basis": _num(cost),
        "unrealized_pl": _num(value - cost),
        "unrealized_plpc": _num((value - cost) / abs(cost) if cost else 0.0),
        "current_price": _num(price),
        "lastday_price": _num(price),
        "change_today": "0",
    }


def account_json(account: SimAccount) -> dict[str, Any]:
    equity = account.equity()
    long_value = sum(
        p.qty * account.prices.get(s, p.avg_entry_price)
        for s, p in account.positions.items()
        if p.qty > 0
    )
    short_value = sum(
        p.qty * account.prices.get(s, p.avg_entry_price)
        for s, p in account.positions.items()
        if p.qty < 0
    )
    return {
        "id": ACCOUNT_ID,
        "account_number": "PA0SIMULATOR",
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "buying_power": _num(max(account.cash, 0.0)),
        "regt_buying_power": _num(max(account.cash, 0.0)),
        "daytrading_buying_power": "0",
        "non_marginable_buying_power": _num(max(account.cash, 0.0)),
        "cash": _num(account.cash),
        "accrued_fees": "0",
        "portfolio_value": _num(equity),
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": False,
        "multiplier": "1",
        "shorting_enabled": account.allow_short,
        "equity": _num(equity),
        "last_equity": _num(equity),
        "long_market_value": _num(long_value),
        "short_market_value": _num(short_value),
        "initial_margin": "0",
        "maintenance_margin": "0",
        "sma": "0",
        "daytrade_count": 0,
    }


def trade_update_json(event: TradeEvent) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event": event.event,
        "order": order_json(event.order),
        "timestamp": _ts(event.timestamp),
    }
    if event.execution_id is not None:
        data |= {
            "execution_id": event.execution_id,
            "price": _num(event.price),
            "qty": _num(event.qty),
            "position_qty": _num(event.position_qty),
        }
    return {"stream": "trade_updates", "data": data}


def error_json(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def bar_message(symbol: str, timestamp: datetime, bar: dict[str, float]) -> dict[str, Any]:
    """One bar as the market-data stream sends it (msgpack; `t` is a msgpack Timestamp)."""
    return {
        "T": "b",
        "S": symbol,
        "o": bar["open"],
        "h": bar["high"],
        "l": bar["low"],
        "c": bar["close"],
        "v": bar["volume"],
        "t": msgpack.Timestamp.from_datetime(timestamp),
        "n": 1,
        "vw": bar["close"],
    }


def bar_json(timestamp: datetime, bar: dict[str, float]) -> dict[str, Any]:
    """One bar as the historical REST endpoint returns it."""
    return {
        "t": timestamp.isoformat().replace("+00:00", "Z"),
        "o": bar["open"],
        "h": bar["high"],
        "l": bar["low"],
        "c": bar["close"],
        "v": bar["volume"],
        "n": 1,
        "vw": bar["close"],
    }


def pack(messages: list[dict[str, Any]]) -> bytes:
    return msgpack.packb(messages, datetime=False)


def trade_message(
    symbol: str, timestamp: datetime, price: float, size: float, trade_id: int
) -> dict[str, Any]:
    """One trade as the market-data stream sends it (msgpack; `t` is a msgpack Timestamp)."""
    return {
        "T": "t", "S": symbol, "i": trade_id, "x": "V", "p": price, "s": size,
        "t": msgpack.Timestamp.from_datetime(timestamp), "c": ["@"], "z": "C",
    }
