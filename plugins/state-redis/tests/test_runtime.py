"""The runtime on the Redis backend: refuses corrupt state, follows a halt from another
process before its next order, and halts when Redis is lost. Needs the sim plugin (skipped
when this plugin is tested alone) and, for the halt, the kill-switch check."""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from ml4t.backtest import OrderStatus, Strategy
from ml4t_live_state_redis import RedisStateConfig, RedisStateStore, RedisStateUnavailableError
from ml4t_live_testing.redis_server import RedisServer

from ml4t_live_core.compose import build
from ml4t_live_core.errors import StateCorruptError
from ml4t_live_core.plugins import LOAD_ENV_VAR
from ml4t_live_core.risk import TradingState

sim = pytest.importorskip(
    "ml4t_live_sim", reason="the runtime tests drive the sim broker and replay feed"
)
from ml4t_live_sim.feeds import synthetic_bars  # noqa: E402

CLI = str(Path(sys.executable).parent / "ml4t-live")


def _feed(assets: int, bars: int, seed: int):
    return sim.ReplayFeed(
        data=synthetic_bars(sim.SyntheticConfig(assets=assets, bars=bars, seed=seed))
    )


class OrderEveryBar(Strategy):
    """Buys one share of the first asset every bar and notes what became of each order."""

    def __init__(self) -> None:
        self.bar = 0
        self.statuses: dict[int, OrderStatus] = {}
        self.reasons: dict[int, str] = {}

    def on_data(self, timestamp, data, context, broker):
        self.bar += 1
        self.before_order(self.bar)
        order = broker.submit_order(sorted(data)[0], 1)
        self.statuses[self.bar], self.reasons[self.bar] = order.status, order.rejection_reason or ""
        self.after_order(self.bar)

    def before_order(self, bar: int) -> None: ...

    def after_order(self, bar: int) -> None: ...


async def test_runtime_refuses_to_trade_on_corrupt_redis_state(
    fresh_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,state-redis")
    garbage = b'{"schema_version": 1, "orders_total": '
    with redis.Redis.from_url(fresh_redis.url) as client:
        client.set("ml4t-live:default:state", garbage)
        strategy = OrderEveryBar()
        runtime = build(
            strategy,
            None,
            feed=_feed(2, 5, 1),
            overrides={
                "runtime": {"strategy_id": "corrupt"},
                "state": {"use": "redis", "redis": {"url": fresh_redis.url}},
            },
        )
        assert isinstance(runtime.store, RedisStateStore)
        with pytest.raises(StateCorruptError, match="refusing to trade"):
            await runtime.engine.run(install_signal_handlers=False)
        assert strategy.statuses == {} and runtime.safe.stats.orders_submitted == 0
        assert client.get("ml4t-live:default:state") == garbage


async def test_runtime_refuses_to_trade_when_a_key_has_the_wrong_type(
    fresh_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,state-redis")
    with redis.Redis.from_url(fresh_redis.url) as client:
        client.rpush("ml4t-live:default:state", "not", "a", "string")
        strategy = OrderEveryBar()
        overrides = {"runtime": {"strategy_id": "wrongtype"},
                     "state": {"use": "redis", "redis": {"url": fresh_redis.url}}}
        runtime = build(strategy, None, feed=_feed(2, 5, 1), overrides=overrides)
        with pytest.raises(StateCorruptError) as caught:
            await runtime.engine.run(install_signal_handlers=False)
        message = str(caught.value)
        assert "ml4t-live:default:state holds a list" in message and "reset --confirm" in message
        assert strategy.statuses == {} and runtime.safe.stats.orders_submitted == 0
        assert client.lrange("ml4t-live:default:state", 0, -1) == [b"not", b"a", b"string"]


class HaltFromAnotherProcess(OrderEveryBar):
    """At bar `at`, after its order, a separate `ml4t-live halt` process halts the account."""

    def __init__(self, command: list[str], at: int):
        super().__init__()
        self.command, self.at = command, at
        self.halt: subprocess.CompletedProcess[str] | None = None

    def after_order(self, bar: int) -> None:
        if bar == self.at:
            self.halt = subprocess.run(self.command, capture_output=True, text=True, timeout=60)


async def test_running_engine_halts_before_its_next_order(
    fresh_redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("ml4t_live_risk_kill_switch") is None:
        pytest.skip("the kill-switch check (ml4t-live-risk-kill-switch) enforces the halt")
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,kill-switch,state-redis")
    config = tmp_path / "live.toml"
    config.write_text(
        f'[state]\nuse = "redis"\n[state.redis]\nurl = "{fresh_redis.url}"\naccount = "shared"\n'
    )
    strategy = HaltFromAnotherProcess(
        [CLI, "halt", "--reason", "other process", "--config", str(config)], at=5
    )
    runtime = build(
        strategy, config, feed=_feed(1, 12, 2), overrides={"runtime": {"strategy_id": "twoproc"}}
    )
    assert isinstance(runtime.store, RedisStateStore)
    await runtime.engine.run(install_signal_handlers=False)

    assert strategy.halt is not None and strategy.halt.returncode == 0, strategy.halt
    assert all(strategy.statuses[bar] is not OrderStatus.REJECTED for bar in range(1, 6))
    after = [bar for bar in strategy.statuses if bar > 5]
    assert after and all(strategy.statuses[bar] is OrderStatus.REJECTED for bar in after)
    assert all(
        "kill-switch" in strategy.reasons[bar] and "other process" in strategy.reasons[bar]
        for bar in after
    )
    assert runtime.safe.trading_state is TradingState.HALTED

    reader = RedisStateStore(
        RedisStateConfig.model_validate({"url": fresh_redis.url, "account": "shared"})
    )
    await reader.open()
    try:
        rejected = [r for r in await reader.read_journal() if r.event.value == "rejected"]
        assert len(rejected) == len(after)
        state = await reader.load_state()
        assert (
            state is not None and state.trading_state is TradingState.HALTED
        )  # survives a restart
    finally:
        await reader.close()


class StopRedisAtBar(OrderEveryBar):
    def __init__(self, server: RedisServer, at: int):
        super().__init__()
        self.server, self.at = server, at

    def before_order(self, bar: int) -> None:
        if bar == self.at:
            self.server.kill()


async def test_engine_rejects_the_order_and_halts_when_redis_is_lost(
    own_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,state-redis")
    strategy = StopRedisAtBar(own_server, at=3)
    runtime = build(
        strategy,
        None,
        feed=_feed(1, 6, 4),
        overrides={
            "runtime": {"strategy_id": "lost"},
            "state": {
                "use": "redis",
                "redis": {"url": own_server.url, "timeout": 0.5, "connect_timeout": 0.5},
            },
        },
    )
    # shutdown cannot flush to a dead server either; what matters is what was sent
    with contextlib.suppress(RedisStateUnavailableError):
        await runtime.engine.run(install_signal_handlers=False)
    assert all(strategy.statuses[bar] is not OrderStatus.REJECTED for bar in (1, 2))
    assert all(
        status is OrderStatus.REJECTED for bar, status in strategy.statuses.items() if bar >= 3
    )
    # Whichever Redis call the order path makes first (trading-state read or journal append)
    # fails, and the order is not sent.
    assert "redis state at redis://127.0.0.1" in strategy.reasons[3]
    assert runtime.safe.trading_state is TradingState.HALTED
    assert runtime.safe.stats.orders_submitted == 2


class HaltBetweenTwoOrders(Strategy):
    """On the first bar: order, let a separate `ml4t-live halt` process run, order again."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.orders: list = []
        self.halt: subprocess.CompletedProcess[str] | None = None

    def on_data(self, timestamp, data, context, broker):
        if self.orders:
            return
        self.orders.append(broker.submit_order(sorted(data)[0], 1))
        self.halt = subprocess.run(self.command, capture_output=True, text=True, timeout=60)
        self.orders.append(broker.submit_order(sorted(data)[1], 1))


async def test_a_halt_by_another_process_stops_the_very_next_order_in_the_same_bar(
    fresh_redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("ml4t_live_risk_kill_switch") is None:
        pytest.skip("the kill-switch check (ml4t-live-risk-kill-switch) enforces the halt")
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,kill-switch,state-redis")
    config = tmp_path / "live.toml"
    config.write_text(f'[state]\nuse = "redis"\n[state.redis]\nurl = "{fresh_redis.url}"\n')
    strategy = HaltBetweenTwoOrders([CLI, "halt", "--reason", "desk", "--config", str(config)])
    overrides = {"runtime": {"strategy_id": "between"}}
    runtime = build(strategy, config, feed=_feed(2, 3, 4), overrides=overrides)
    await runtime.engine.run(install_signal_handlers=False)

    assert strategy.halt is not None and strategy.halt.returncode == 0, strategy.halt
    first, second = strategy.orders
    assert first.status is not OrderStatus.REJECTED
    assert second.status is OrderStatus.REJECTED
    assert "kill-switch" in second.rejection_reason and "desk" in second.rejection_reason
