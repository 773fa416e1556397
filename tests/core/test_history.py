"""A live process keeps a bounded history: open orders always, the most recent finished orders,
fills and rejections up to `[runtime] history_limit`, and never double-counts an execution of an
order it still tracks."""

from __future__ import annotations

import dataclasses

import pytest
from ml4t.backtest import Fill, Order, OrderSide, OrderStatus, OrderType, Strategy

from ml4t_live_core.history import History
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.protocols import FillEvent
from ml4t_live_core.risk import Rejection

LIMIT = 10
BARS = 60  # the `bars` fixture: 60 one-minute bars of A000, A001, A002


class Churn(Strategy):
    """Bar 1: two buy limits far below the market (open the whole run). Every bar but the last:
    buy and sell one A001 (filled at the next open) and one order the check rejects. At the end,
    everything the strategy can read back."""

    def __init__(self) -> None:
        self.bar = 0
        self.resting: list[str] = []
        self.filled: list[str] = []
        self.rejected: list[str] = []
        self.seen: dict[str, object] = {}

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.bar += 1
        if self.bar == 1:
            self.resting = [
                broker.submit_order("A000", 2, order_type=OrderType.LIMIT, limit_price=1.0).order_id
                for _ in range(2)
            ]
        if self.bar < BARS:
            self.filled.append(broker.submit_order("A001", 1).order_id)
            self.filled.append(broker.submit_order("A001", -1).order_id)
            self.rejected.append(broker.submit_order("A002", 7).order_id)

    def on_end(self, broker):  # type: ignore[no-untyped-def]
        first_and_last = [self.filled[0], self.filled[-1], self.rejected[0], self.rejected[-1]]
        asked = [*self.resting, *first_and_last]
        self.seen = {
            "orders": broker.get_orders(),
            "order": {oid: broker.get_order(oid) for oid in asked},
            "fills": broker.get_fills(),
            "resting_fills": broker.get_fills(self.resting[0]),
            "rejected": broker.get_rejected_orders(),
            "reason": broker.last_rejection_reason,
        }


class RejectSeven:
    """An in-process risk check: every order for 7 shares is rejected."""

    @hookimpl
    def ml4t_live_check_order(self, order, context):  # type: ignore[no-untyped-def]
        return Rejection("no-sevens", "7 shares") if order.quantity == 7 else None


class Replayer:
    """Plays the broker that re-sends executions (as after a reconnect): on bar 3 a partial fill
    of a resting order; on the last bar that partial again and the newest real execution again."""

    def __init__(self, strategy: Churn) -> None:
        self.strategy = strategy
        self.bar = 0
        self.events: list[FillEvent] = []
        self.partial: FillEvent | None = None
        self.before: dict[str, object] = {}
        self.after: dict[str, object] = {}

    def record(self, event: object) -> None:
        if isinstance(event, FillEvent):
            self.events.append(event)

    @hookimpl
    def ml4t_live_on_bar(self, timestamp, data, context):  # type: ignore[no-untyped-def]
        self.bar += 1
        if self.bar == 3:
            fill = Fill(order_id=self.strategy.resting[0], asset="A000", side=OrderSide.BUY,
                        quantity=1.0, price=1.0, timestamp=timestamp)
            self.partial = FillEvent(fill, order_complete=False, execution_id="venue-partial-1")
            context._on_event(self.partial)
        if self.bar == BARS:
            newest = self.events[-1]
            assert newest.fill.order_id == self.strategy.filled[-1]
            self.before = self._state(context, newest.fill.order_id)
            context._on_event(self.partial)
            context._on_event(dataclasses.replace(newest))  # the same execution, delivered again
            self.after = self._state(context, newest.fill.order_id)

    def _state(self, safe, newest_id):  # type: ignore[no-untyped-def]
        resting = safe._orders[self.strategy.resting[0]]
        return {
            "A000": safe.ledger.quantity("A000"), "A001": safe.ledger.quantity("A001"),
            "cash": safe.ledger.cash,
            "fills": safe.stats.fills, "resting_filled": resting.filled_quantity,
            "newest_filled": safe._orders[newest_id].filled_quantity,
        }


async def test_history_stays_at_the_limit_keeps_open_orders_and_drops_duplicates(make_runtime):
    strategy = Churn()
    replayer = Replayer(strategy)
    runtime = make_runtime(
        strategy,
        overrides={"runtime": {"strategy_id": "test", "history_limit": LIMIT}},
        extra_plugins=[(RejectSeven(), "no-sevens"), (replayer, "replayer")],
    )
    runtime.safe.venue.subscribe(replayer.record)
    await runtime.engine.run(install_signal_handlers=False)
    safe = runtime.safe
    finished = 2 * (BARS - 1)
    assert safe.stats.orders_submitted == finished + 2 and safe.stats.fills == finished + 1
    assert len(strategy.rejected) == BARS - 1 >= 5 * LIMIT and finished >= 5 * LIMIT

    assert safe.history.sizes() == {
        "orders": LIMIT + 2, "open_orders": 2, "finished_orders": LIMIT,
        "fills": LIMIT, "rejected": LIMIT,
        # retained orders' executions + the open one's partial + the recent window
        "execution_ids": LIMIT + 1 + LIMIT,
    }

    # A replayed execution changes nothing: not for an order open since bar 3 (its id is older
    # than anything the recent window still holds), not for the most recently finished order.
    assert replayer.after == replayer.before
    assert replayer.before["resting_filled"] == 1.0 and replayer.before["newest_filled"] == 1.0

    seen = strategy.seen
    by_id = seen["order"]
    assert [by_id[oid].status for oid in strategy.resting] == [OrderStatus.PENDING] * 2
    assert by_id[strategy.resting[0]].filled_quantity == 1.0
    # the oldest have left the history: unknown, as in the backtest
    assert by_id[strategy.filled[0]] is None and by_id[strategy.rejected[0]] is None
    assert by_id[strategy.filled[-1]].status is OrderStatus.FILLED
    assert by_id[strategy.rejected[-1]].status is OrderStatus.REJECTED
    assert [f.order_id for f in seen["fills"]] == strategy.filled[-LIMIT:]
    assert seen["resting_fills"] == []  # its partial fill is older than the last LIMIT fills
    assert [o.order_id for o in seen["rejected"]] == strategy.rejected[-LIMIT:]
    assert seen["reason"] == "no-sevens: 7 shares"
    orders = {o.order_id: o for o in seen["orders"]}
    kept = {*strategy.resting, *strategy.filled[-LIMIT:], *strategy.rejected[-LIMIT:]}
    assert set(orders) == kept


def _order(order_id: str) -> Order:
    return Order(asset="A", side=OrderSide.BUY, quantity=1.0, order_id=order_id)


def test_an_open_orders_execution_ids_are_kept_however_many_orders_finish_after():
    history = History(3)
    history.orders["open"] = _order("open")
    assert history.first_execution("open", "x-open")
    for n in range(50):
        history.orders[f"o{n}"] = order = _order(f"o{n}")
        assert history.first_execution(order.order_id, f"x{n}")
        history.finished(order)
        assert not history.first_execution(order.order_id, f"x{n}")
    assert not history.first_execution("open", "x-open")
    assert history.first_execution("open", "x-open-2")  # a new execution of it still counts
    assert list(history.orders) == ["open", "o47", "o48", "o49"]


def test_ids_of_an_order_that_left_the_history_are_remembered_for_a_window_then_dropped():
    history = History(2)
    for n in range(3):  # o0 leaves when o2 finishes
        history.orders[f"o{n}"] = order = _order(f"o{n}")
        history.first_execution(order.order_id, f"x{n}")
        history.finished(order)
    assert "o0" not in history.orders
    assert not history.first_execution("o0", "x0")  # still in the recent window
    assert history.first_execution("elsewhere", "y1") and history.first_execution("elsewhere", "y2")
    assert not history.first_execution("elsewhere", "y2")
    assert history.first_execution("o0", "x0")  # pushed out of the window by y1, y2: forgotten
    assert history.sizes()["execution_ids"] <= 2 * 2 + 2


def test_finishing_twice_or_an_untracked_order_changes_nothing():
    history = History(2)
    history.orders["a"] = a = _order("a")
    history.finished(a)
    history.finished(a)
    history.finished(_order("never-tracked"))
    assert history.sizes()["finished_orders"] == 1 and list(history.orders) == ["a"]


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "10"])
def test_history_limit_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="history limit must be a positive integer"):
        History(bad)
