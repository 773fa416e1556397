"""Encoders for the messages the gateway sends, field by field as ib_async 2.1 decodes them at
server version 178 (see ib_async/decoder.py; the tests decode them with the real client)."""

from __future__ import annotations

from ml4t_live_testing.ib.book import GatewayBook, SimExecution, SimOrder, SimPosition
from ml4t_live_testing.ib.contracts import SimContract

Fields = list[object]


def _num(value: float | None) -> object:
    return "" if value is None else value


def managed_accounts(accounts: str) -> Fields:
    return [15, 1, accounts]


def next_valid_id(order_id: int) -> Fields:
    return [9, 1, order_id]


def current_time(epoch: int) -> Fields:
    return [49, 1, epoch]


def error(req_id: int, code: int, text: str) -> Fields:
    return [4, 2, req_id, code, text, ""]


def position(account: str, pos: SimPosition) -> Fields:
    return [61, 3, account, *pos.contract.wire(), pos.quantity, pos.avg_cost]


def position_end() -> Fields:
    return [62, 1]


def account_value(key: str, value: object, currency: str, account: str) -> Fields:
    return [6, 2, key, value, currency, account]


def portfolio(book: GatewayBook, pos: SimPosition) -> Fields:
    c = pos.contract
    mult = float(c.multiplier or 1)
    price = book.prices.get(c.con_id, pos.avg_cost / mult if mult else 0.0)
    value = pos.quantity * price * mult
    return [
        7,
        8,
        c.con_id,
        c.symbol,
        c.sec_type,
        c.last_trade,
        0.0,
        "",
        c.multiplier,
        c.primary_exchange,
        c.currency,
        c.local_symbol or c.symbol,
        c.trading_class or c.symbol,
        pos.quantity,
        price,
        value,
        pos.avg_cost,
        value - pos.quantity * pos.avg_cost,
        0.0,
        book.account,
    ]


def account_time(hhmm: str) -> Fields:
    return [8, 1, hhmm]


def account_download_end(account: str) -> Fields:
    return [54, 1, account]


def account_update_multi(
    req_id: int, account: str, key: str, value: object, currency: str
) -> Fields:
    return [73, 1, req_id, account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return [74, 1, req_id]


def contract_details(req_id: int, c: SimContract) -> Fields:
    return [
        10,
        req_id,
        c.symbol,
        c.sec_type,
        c.last_trade,
        0.0,
        "",
        c.exchange,
        c.currency,
        c.local_symbol or c.symbol,
        c.trading_class or c.symbol,
        c.trading_class or c.symbol,
        c.con_id,
        0.01,
        c.multiplier,
        "ACTIVETIM,LMT,MKT,STP,STPLMT,TRAIL",
        c.exchange,
        1,
        0,
        c.symbol,
        c.primary_exchange,
        "",
        "",
        "",
        "",
        "US/Eastern",
        "",
        "",
        "",
        "",
        0,
        "",
        "",
        "",
        "",
        "",
        "COMMON",
        "1",
        "1",
        "1",
    ]


def contract_details_end(req_id: int) -> Fields:
    return [52, 1, req_id]


def open_order(o: SimOrder) -> Fields:
    c = o.contract
    head: Fields = [
        5,
        o.order_id,
        *c.wire(),
        o.action,
        o.quantity,
        o.order_type,
        _num(o.lmt_price),
        _num(o.aux_price),
        o.tif,
        "",
        o.account,
        "O",
        0,
        o.order_ref,
        o.client_id,
        o.perm_id,
        0,
        0,
        0,
        "",
        "",
        "",
        "",
        "",
    ]
    # modelCode .. deltaNeutralAuxPrice (29 fields); parentId sits at index 23 of them
    middle: Fields = [""] * 29
    middle[23] = o.parent_id
    middle[16], middle[17] = 0, 0  # sweepToFill, allOrNone are bools
    tail: Fields = [
        0,
        "",
        "",
        "",
        "",
        "",
        "",  # continuousUpdate .. comboLegsDescrip
        0,
        0,
        0,  # combo legs, order combo legs, smart combo params
        "",
        "",
        "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        0,
        "",
        "",
        0,
        0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc
        "",  # algoStrategy
        0,
        0,
        o.status,
        *[""] * 14,
        0,
        0,  # solicited, whatIf, order state, warning, randomize
        0,  # conditions
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        0,
        0,
        "",
        0,
        "",
        0,
        0,
        "",
        "",
        "",
        "",
        "",  # duration .. midOffsetAtHalf
    ]
    return head + middle + tail


def open_order_end() -> Fields:
    return [53, 1]


def order_status(o: SimOrder) -> Fields:
    return [
        3,
        o.order_id,
        o.status,
        o.filled,
        o.remaining,
        o.avg_price,
        o.perm_id,
        o.parent_id,
        o.last_fill_price,
        o.client_id,
        o.why_held,
        0.0,
    ]


def completed_order(o: SimOrder) -> Fields:
    """A done order (reqCompletedOrders); ib_async keys it by permId, orderRef identifies it."""
    return [
        101,
        *o.contract.wire(),
        o.action,
        o.quantity,
        o.order_type,
        _num(o.lmt_price),
        _num(o.aux_price),
        o.tif,
        "",
        o.account,
        "O",
        0,
        o.order_ref,
        o.perm_id,
        0,
        0,
        0,
        "",
        "",
        "",
        "",  # goodAfterTime, faGroup, faMethod, faPercentage
        *[""] * 23,  # modelCode .. deltaNeutralAuxPrice (no delta-neutral order type)
        0,
        "",
        "",
        "",
        "",  # continuousUpdate .. comboLegsDescrip
        0,
        0,
        0,  # combo legs, order combo legs, smart combo params
        "",
        "",
        "",
        "",  # scale sizes, scalePriceIncrement, hedgeType
        "",
        "",
        0,
        0,  # clearingAccount, clearingIntent, notHeld, delta-neutral contract
        "",  # algoStrategy
        0,
        o.status,
        0,
        0,  # solicited, status, randomizeSize, randomizePrice
        0,  # conditions
        "",
        "",
        "",
        0,
        0,
        "",
        o.filled,
        "",
        0,
        "",
        0,
        0,
        "",  # trailStopPrice .. parentPermId
        "",
        o.status,  # completedTime, completedStatus
        "",
        "",
        "",
        "",
        "",  # minTradeQty .. midOffsetAtHalf
    ]


def completed_orders_end() -> Fields:
    return [102]


def exec_details(req_id: int, e: SimExecution, account: str) -> Fields:
    o = e.order
    return [
        11,
        req_id,
        o.order_id,
        *o.contract.wire(exchange="ISLAND"),
        e.exec_id,
        e.time,
        account,
        "ISLAND",
        "BOT" if o.action == "BUY" else "SLD",
        e.shares,
        e.price,
        o.perm_id,
        o.client_id,
        0,
        e.cum_qty,
        e.avg_price,
        o.order_ref,
        "",
        "",
        "",
        1,
        0,
    ]


def exec_details_end(req_id: int) -> Fields:
    return [55, 1, req_id]


def commission_report(e: SimExecution, currency: str) -> Fields:
    return [59, 1, e.exec_id, e.commission, currency, "", "", ""]


def realtime_bar(
    req_id: int, epoch: int, o: float, h: float, lo: float, c: float, v: float
) -> Fields:
    return [50, 3, req_id, epoch, o, h, lo, c, v, (h + lo + c) / 3, 1]


def historical_data(
    req_id: int, bars: list[tuple[str, float, float, float, float, float]]
) -> Fields:
    fields: Fields = [17, req_id, "", "", len(bars)]
    for date, o, h, lo, c, v in bars:
        fields += [date, o, h, lo, c, v, (h + lo + c) / 3, 1]
    return fields


def tick_by_tick_last(req_id: int, epoch: int, price: float, size: float) -> Fields:
    return [99, req_id, 1, epoch, price, size, 0, "", ""]
