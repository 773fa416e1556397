"""Following the persisted trading state never undoes a halt this process took itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ml4t.backtest import Strategy

from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import RiskState

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class Idle(Strategy):
    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        return None


async def test_an_old_active_flag_does_not_undo_a_local_halt(make_runtime) -> None:
    store = MemoryStateStore()
    store.trading_state = TradingStateRecord(TradingState.ACTIVE, "manual resume", T0)
    runtime = make_runtime(Idle(), store=store)
    await runtime.safe.start()
    runtime.safe._persistence_failed(
        OSError(28, "No space left on device")
    )  # halts, writes no flag
    await runtime.safe._follow_persisted_trading_state()
    assert runtime.safe.trading_state is TradingState.HALTED
    store.trading_state = TradingStateRecord(
        TradingState.ACTIVE, "manual resume", T0 + timedelta(hours=1)
    )
    await runtime.safe._follow_persisted_trading_state()  # a person resumed on purpose: follow it
    assert runtime.safe.trading_state is TradingState.ACTIVE
    await runtime.safe.stop()


async def test_a_saved_halt_newer_than_the_flag_survives_restart(make_runtime) -> None:
    store = MemoryStateStore()
    store.trading_state = TradingStateRecord(TradingState.ACTIVE, "manual resume", T0)
    store.state = RiskState(
        trading_state=TradingState.HALTED,
        trading_state_reason="drawdown 10%",
        trading_state_since=T0 + timedelta(minutes=5),
    )
    runtime = make_runtime(Idle(), store=store)
    await runtime.safe.start()
    assert runtime.safe.trading_state is TradingState.HALTED
    assert runtime.safe.risk_state.trading_state_reason == "drawdown 10%"
    await runtime.safe.stop()


async def test_a_flag_newer_than_the_saved_state_wins_at_start(make_runtime) -> None:
    store = MemoryStateStore()
    store.state = RiskState(trading_state=TradingState.ACTIVE, trading_state_since=T0)
    store.trading_state = TradingStateRecord(
        TradingState.HALTED, "manual halt: desk", T0 + timedelta(minutes=1)
    )
    runtime = make_runtime(Idle(), store=store)
    await runtime.safe.start()
    assert runtime.safe.trading_state is TradingState.HALTED
    await runtime.safe.stop()


class BuyTwice(Strategy):
    def __init__(self, corrupt) -> None:  # type: ignore[no-untyped-def]
        self.corrupt, self.orders = corrupt, []

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        if len(self.orders) == 0:
            self.orders.append(broker.submit_order("A000", 1))
            self.corrupt()
            self.orders.append(broker.submit_order("A001", 1))


async def test_an_unreadable_trading_state_mid_run_halts_and_rejects(
    make_runtime, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from ml4t.backtest import OrderStatus

    from .conftest import durable_store

    store = durable_store("json", tmp_path)

    def corrupt() -> None:
        (tmp_path / "trading_state.json").write_bytes(b'{"state": "hal')

    strategy = BuyTwice(corrupt)
    runtime = make_runtime(strategy, store=store)
    stats = await runtime.engine.run(install_signal_handlers=False)  # keeps running, does not crash
    first, second = strategy.orders
    assert first.status is not OrderStatus.REJECTED
    assert second.status is OrderStatus.REJECTED
    assert "cannot read the persisted trading state" in (second.rejection_reason or "")
    assert "trading_state.json" in (second.rejection_reason or "")
    assert runtime.safe.trading_state is TradingState.HALTED
    assert stats.bars > 1
