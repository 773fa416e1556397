"""The exporter alone with the core: its hooks driven directly over a real `SafeBroker` context,
the endpoint scraped over real HTTP (no engine, no sim plugin needed)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from ml4t_live_prometheus.exporter import PrometheusConfig, PrometheusExporter
from ml4t_live_testing.risk import risk_context
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from ml4t_live_core.errors import PluginError
from ml4t_live_core.risk import TradingState
from ml4t_live_core.stats import RuntimeStats


def _scrape(port: int) -> dict[str, float]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{label}}}" if label else s.name] = s.value
    return samples


def test_scrape_reads_the_runtime_counters_and_the_account() -> None:
    stats = RuntimeStats(
        bars=7,
        orders_submitted=3,
        fills=2,
        connected=True,
        last_bar_time=datetime(2024, 1, 2, 15, 0, tzinfo=UTC),
    )
    stats.rejections_by_check["order-size"] = 4
    context = risk_context(positions={"A": 10, "B": -5}, prices={"A": 50.0, "B": 20.0})
    exporter = PrometheusExporter(PrometheusConfig(port=0))
    exporter.ml4t_live_on_run_start(stats=stats, context=context)
    try:
        for seconds in (0.002, 0.02):
            exporter.ml4t_live_on_bar_done(
                timestamp=context.now, stats=stats, callback_seconds=seconds, context=context
            )
        stats.bars += 1  # read at scrape time, never copied
        context.set_trading_state(TradingState.HALTED, "test")
        got = _scrape(exporter.port)
    finally:
        exporter.ml4t_live_on_run_end(stats=stats, context=context)
    assert got["ml4t_live_bars_total"] == 8
    assert got["ml4t_live_orders_submitted_total"] == 3
    assert got["ml4t_live_fills_total"] == 2
    assert got["ml4t_live_orders_rejected_total{check=order-size}"] == 4
    assert got["ml4t_live_connected"] == 1
    assert got["ml4t_live_last_bar_timestamp_seconds"] == stats.last_bar_time.timestamp()
    assert got["ml4t_live_strategy_callback_seconds_count"] == 2
    assert got["ml4t_live_trading_state{ml4t_live_trading_state=halted}"] == 1
    assert got["ml4t_live_trading_state{ml4t_live_trading_state=active}"] == 0
    assert got["ml4t_live_open_positions"] == 2
    assert got["ml4t_live_gross_exposure"] == pytest.approx(10 * 50.0 + 5 * 20.0)
    assert got["ml4t_live_equity"] == pytest.approx(context.equity())


def test_the_endpoint_lives_exactly_as_long_as_the_run() -> None:
    stats, context = RuntimeStats(), risk_context()
    exporter = PrometheusExporter(PrometheusConfig(port=0))
    exporter.ml4t_live_on_run_start(stats=stats, context=context)
    port = exporter.port
    assert port and _scrape(port)["ml4t_live_bars_total"] == 0
    exporter.ml4t_live_on_run_end(stats=stats, context=context)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_busy_port_is_a_plugin_error_naming_the_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        exporter = PrometheusExporter(PrometheusConfig(port=taken.getsockname()[1]))
        with pytest.raises(PluginError, match=r"cannot listen.*\[observers.prometheus\] port"):
            exporter.ml4t_live_on_run_start(stats=RuntimeStats(), context=risk_context())


def test_disabled_exporter_serves_nothing() -> None:
    exporter = PrometheusExporter(PrometheusConfig(enabled=False, port=0))
    exporter.ml4t_live_on_run_start(stats=RuntimeStats(), context=risk_context())
    assert exporter.port is None


def test_endpoint_binds_loopback_by_default() -> None:
    assert PrometheusConfig().host == "127.0.0.1"


@pytest.mark.parametrize("bad", [{"port": 70000}, {"port": -1}, {"portt": 9000}])
def test_bad_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PrometheusConfig.model_validate(bad)
