"""When a resting simulated order trades, and at what price: limit, stop, stop-limit, trailing."""

from __future__ import annotations

from ml4t_live_testing.ib.book import SimOrder

ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT", "TRAIL")


def validate(order: SimOrder) -> str:
    """Why IB would refuse this new order ("" when it is acceptable)."""
    if order.order_type not in ORDER_TYPES:
        return f"order type {order.order_type} is not supported"
    if order.action not in ("BUY", "SELL") or not order.quantity > 0:
        return "invalid side or quantity"
    if order.order_type in ("LMT", "STP LMT") and order.lmt_price is None:
        return "limit price missing"
    if order.order_type in ("STP", "STP LMT", "TRAIL") and order.aux_price is None:
        return "stop price or trailing amount missing"
    return ""


class Matcher:
    """Decides fills against a last price; remembers each trailing stop's best price."""

    def __init__(self) -> None:
        self.auto_fill_market = False
        #: best price seen since a trailing stop started working (order id -> price)
        self.trail_anchor: dict[int, float] = {}
        #: stop-limit orders whose stop has triggered (order id)
        self.stop_triggered: set[int] = set()

    def crosses(self, o: SimOrder, price: float) -> bool:
        buy = o.action == "BUY"
        lmt, aux = o.lmt_price or 0.0, o.aux_price or 0.0  # validate() guarantees them per type
        if o.order_type == "MKT":
            return self.auto_fill_market
        if o.order_type == "LMT":
            return price <= lmt if buy else price >= lmt
        if o.order_type == "TRAIL":
            anchor = self.trail_anchor.get(o.order_id, price)
            anchor = min(anchor, price) if buy else max(anchor, price)
            self.trail_anchor[o.order_id] = anchor
            return price >= anchor + aux if buy else price <= anchor - aux
        triggered = o.order_id in self.stop_triggered or (price >= aux if buy else price <= aux)
        if o.order_type == "STP LMT":
            if triggered:  # from now on it is a working limit order, as at IB
                self.stop_triggered.add(o.order_id)
            return triggered and (price <= lmt if buy else price >= lmt)
        return triggered

    @staticmethod
    def fill_price(o: SimOrder, price: float) -> float:
        if o.order_type in ("LMT", "STP LMT") and o.lmt_price is not None:
            return min(price, o.lmt_price) if o.action == "BUY" else max(price, o.lmt_price)
        return price
