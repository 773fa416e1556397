"""The metrics endpoint, scraped over real HTTP while a run is in progress."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime, timedelta

import pytest
from ml4t.backtest import Strategy
from ml4t_live_prometheus.exporter import PrometheusConfig
from prometheus_client.parser import text_string_to_metric_families

from ml4t_live_core.clock import MarketClock
from ml4t_live_core.compose import build
from ml4t_live_core.errors import ConfigError
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import LOAD_ENV_VAR
from ml4t_live_core.protocols import ConnectionEvent

# Runs of the engine need the sim plugin's broker and feeds; alone with the core, these skip.
sim = pytest.importorskip("ml4t_live_sim")
ReplayFeed, SyntheticConfig, synthetic_bars = (
    sim.ReplayFeed,
    sim.SyntheticConfig,
    sim.feeds.synthetic_bars,
)
LAG_SECONDS = 2.5


class LateClock(MarketClock):
    """Replay time that runs LAG_SECONDS behind each bar, as a slow live feed would."""

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=LAG_SECONDS)


class FlakySimBroker(sim.SimBroker):
    """The sim broker, whose connection drops and comes back once, at the 4th bar."""

    def __init__(self) -> None:
        super().__init__()
        self.bars = 0

    async def on_bar(self, timestamp, data):  # type: ignore[no-untyped-def]
        self.bars += 1
        if self.bars == 4:
            self._emit(ConnectionEvent(False, "socket closed"))
            self._emit(ConnectionEvent(True, "reconnected"))
        await super().on_bar(timestamp, data)


class ScrapeMidRun(Strategy):
    """Buys one share a bar, sends one order it cannot afford, scrapes at bar 10."""

    def __init__(self) -> None:
        self.bars = 0
        self.exporter = None  # set by the test once the runtime is built
        self.port: int | None = None
        self.scraped: dict[str, list] = {}

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.bars += 1
        if self.bars == 1:
            broker.submit_order("A000", 1_000_000)  # the sim broker rejects: insufficient cash
        if self.bars == 2:
            broker.submit_order("A000", 3_000_000)  # the order-size check rejects: never sent
        broker.submit_order("A001", 1)
        if self.bars == 10:
            self.port = self.exporter.port
            self.bound = self.exporter._server.server_address[0]
            body = (
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5)
                .read()
                .decode()
            )
            self.scraped = {
                family.name: [(s.name, s.labels, s.value) for s in family.samples]
                for family in text_string_to_metric_families(body)
            }


@pytest.fixture
def runtime_with_exporter(monkeypatch):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,prometheus,order-size")
    strategy = ScrapeMidRun()
    runtime = build(
        strategy,
        None,
        overrides={
            "runtime": {"strategy_id": "metrics"},
            "observers": {"prometheus": {"port": 0}},
            "risk": {"order-size": {"max_shares": 2_000_000}},
        },
        feed=ReplayFeed(data=synthetic_bars(SyntheticConfig(assets=2, bars=15, seed=1))),
        store=MemoryStateStore(),
        broker=FlakySimBroker(),
        clock=LateClock(),
    )
    strategy.exporter = runtime.plugins.pm.get_plugin("observer:prometheus")
    return strategy, runtime


def _value(scraped: dict[str, list], family: str, sample: str, **labels: str) -> float:
    return next(
        v
        for name, got, v in scraped[family]
        if name == sample and all(got.get(k) == x for k, x in labels.items())
    )


async def test_scrape_during_a_run_reports_bars_orders_rejections_and_callbacks(
    runtime_with_exporter,
):
    strategy, runtime = runtime_with_exporter
    await runtime.engine.run(install_signal_handlers=False)

    scraped = strategy.scraped
    assert strategy.bound == "127.0.0.1"  # loopback by default: metrics reveal positions
    assert _value(scraped, "ml4t_live_bars", "ml4t_live_bars_total") == 10
    assert _value(scraped, "ml4t_live_orders_submitted", "ml4t_live_orders_submitted_total") == 11
    assert (
        _value(
            scraped, "ml4t_live_orders_rejected", "ml4t_live_orders_rejected_total", check="broker"
        )
        == 1
    )
    assert (
        _value(
            scraped,
            "ml4t_live_orders_rejected",
            "ml4t_live_orders_rejected_total",
            check="order-size",
        )
        == 1
    )
    # 9 callbacks had finished when the 10th scraped
    assert (
        _value(
            scraped,
            "ml4t_live_strategy_callback_seconds",
            "ml4t_live_strategy_callback_seconds_count",
        )
        == 9
    )
    assert (
        _value(
            scraped,
            "ml4t_live_trading_state",
            "ml4t_live_trading_state",
            ml4t_live_trading_state="active",
        )
        == 1
    )
    assert (
        _value(
            scraped,
            "ml4t_live_trading_state",
            "ml4t_live_trading_state",
            ml4t_live_trading_state="halted",
        )
        == 0
    )
    assert _value(scraped, "ml4t_live_connected", "ml4t_live_connected") == 1
    assert _value(scraped, "ml4t_live_disconnects", "ml4t_live_disconnects_total") == 1
    assert _value(scraped, "ml4t_live_reconnects", "ml4t_live_reconnects_total") == 1
    # the 1-share orders of bars 1..9 filled at the next bars' opens; the unaffordable one never
    assert _value(scraped, "ml4t_live_fills", "ml4t_live_fills_total") == 9
    assert _value(scraped, "ml4t_live_bar_lag_seconds", "ml4t_live_bar_lag_seconds") == LAG_SECONDS
    assert _value(scraped, "ml4t_live_open_positions", "ml4t_live_open_positions") == 1
    assert 99_000 < _value(scraped, "ml4t_live_equity", "ml4t_live_equity") < 101_000
    assert _value(scraped, "ml4t_live_gross_exposure", "ml4t_live_gross_exposure") > 0
    # the endpoint lives exactly as long as the run
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{strategy.port}/metrics", timeout=2)


def test_endpoint_binds_loopback_by_default():
    assert PrometheusConfig().host == "127.0.0.1"


def test_bad_port_names_the_section_and_key(monkeypatch):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim,prometheus")
    with pytest.raises(ConfigError, match=r"\[observers.prometheus\].*'port'"):
        build(
            ScrapeMidRun(),
            None,
            overrides={"observers": {"prometheus": {"port": 70000}}},
            store=MemoryStateStore(),
            feed=ReplayFeed(data=synthetic_bars(SyntheticConfig(assets=1, bars=2))),
        )


async def test_a_busy_port_stops_the_run_before_the_strategy_starts(monkeypatch):
    import socket

    from ml4t_live_core.errors import PluginError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv(LOAD_ENV_VAR, "sim,prometheus")
        strategy = ScrapeMidRun()
        runtime = build(
            strategy,
            None,
            overrides={"observers": {"prometheus": {"port": taken.getsockname()[1]}}},
            store=MemoryStateStore(),
            feed=ReplayFeed(data=synthetic_bars(SyntheticConfig(assets=1, bars=3))),
        )
        with pytest.raises(PluginError, match="cannot listen"):
            await runtime.engine.run(install_signal_handlers=False)
    assert strategy.bars == 0
