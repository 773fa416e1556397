"""Folding journal records into what the report shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ml4t_live_report.session import build_session

from ml4t_live_core.state import JournalEvent, JournalRecord

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _order(
    event: JournalEvent, minutes: int, oid: str, side: str = "buy", qty: float = 10, **kw
) -> JournalRecord:
    return JournalRecord(
        timestamp=_at(minutes),
        event=event,
        client_order_id=oid,
        asset=kw.pop("asset", "AAPL"),
        side=side,
        quantity=qty,
        order_type="market",
        **kw,
    )


def _mark(minutes: int, equity: float) -> JournalRecord:
    return JournalRecord(timestamp=_at(minutes), event=JournalEvent.MARK, detail={"equity": equity})


def test_drawdown_is_measured_from_the_running_peak():
    session = build_session([_mark(0, 100.0), _mark(1, 110.0), _mark(2, 99.0), _mark(3, 121.0)])
    assert [round(d, 4) for _, d in session.drawdown] == [0.0, 0.0, -0.1, 0.0]


def test_partial_fills_average_the_price_and_positions_follow_fills():
    session = build_session(
        [
            _order(JournalEvent.SUBMITTED, 0, "o1", qty=10),
            _order(
                JournalEvent.PARTIALLY_FILLED, 1, "o1", qty=10, fill_price=100.0, filled_quantity=4
            ),
            _order(JournalEvent.FILLED, 2, "o1", qty=10, fill_price=110.0, filled_quantity=6),
            _order(
                JournalEvent.ACKNOWLEDGED, 3, "o1", qty=10
            ),  # late ack never overrides a terminal state
            _order(JournalEvent.SUBMITTED, 4, "o2", side="sell", qty=15),
            _order(
                JournalEvent.FILLED,
                5,
                "o2",
                side="sell",
                qty=15,
                fill_price=120.0,
                filled_quantity=15,
            ),
        ]
    )
    first, second = session.orders
    assert first.status == "filled" and first.filled_quantity == 10
    assert first.average_price == pytest.approx(106.0)
    assert second.status == "filled"
    assert session.positions["AAPL"] == [(_at(1), 4.0), (_at(2), 10.0), (_at(5), -5.0)]


def test_every_reason_of_a_rejection_counts_for_its_check():
    session = build_session(
        [
            _order(
                JournalEvent.REJECTED,
                0,
                "o1",
                reasons=(
                    "order-size: value $12,400 > max $10,000",
                    "price-collar: limit 1,500.00 is 900.0% from last",
                ),
            ),
            _order(JournalEvent.REJECTED, 1, "o2", reasons=("order-size: shares 500 > max 100",)),
            _order(JournalEvent.SUBMITTED, 2, "o3"),
            _order(JournalEvent.REJECTED, 3, "o3", reasons=("broker: Insufficient cash",)),
        ]
    )
    assert session.rejections_by_check == {"order-size": 2, "price-collar": 1, "broker": 1}
    assert [o.status for o in session.orders] == ["rejected", "rejected", "rejected"]
    assert session.orders[0].reasons[1].startswith("price-collar")


def test_trading_state_changes_are_listed_and_shadow_is_noticed():
    session = build_session(
        [
            JournalRecord(
                timestamp=_at(0),
                event=JournalEvent.TRADING_STATE,
                reasons=("drawdown 12% > 10%",),
                detail={"state": "halted"},
                shadow=True,
            ),
        ]
    )
    assert session.trading_states == [(_at(0), "halted", "drawdown 12% > 10%")]
    assert session.shadow
