"""PrometheusExporter: the runtime's counters and gauges on an HTTP endpoint, for scraping.

The engine's `RuntimeStats` and the SafeBroker's account are the single source of truth; a
custom collector reads them when Prometheus scrapes (on the server thread: plain attribute
reads of values the event loop replaces, never mutates in place), so nothing is counted twice.
Only the strategy-callback histogram is fed by a hook, because no counter holds durations.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, StateSetMetricFamily
from prometheus_client.registry import Collector

from ml4t_live_core.errors import PluginError
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import RiskContext, TradingState
from ml4t_live_core.stats import RuntimeStats
from ml4t_live_prometheus.config import PrometheusConfig

log = logging.getLogger("ml4t_live.prometheus")

_CALLBACK_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class RuntimeCollector(Collector):
    """Turns RuntimeStats and the account into metric families at scrape time."""

    def __init__(self, stats: RuntimeStats, context: RiskContext):
        self.stats, self.context = stats, context

    def collect(self) -> Iterator[Any]:
        s = self.stats
        for name, doc, value in (
            ("ml4t_live_bars", "Bars dispatched to the strategy", s.bars),
            ("ml4t_live_bars_skipped", "Bars skipped by the 'latest' busy policy", s.bars_skipped),
            ("ml4t_live_strategy_errors", "Exceptions raised by the strategy", s.errors),
            (
                "ml4t_live_orders_submitted",
                "Orders that passed every check and were sent",
                s.orders_submitted,
            ),
            ("ml4t_live_fills", "Executions applied to the portfolio", s.fills),
            (
                "ml4t_live_disconnects",
                "Broker connection losses (each followed by a reconnect attempt)",
                s.disconnects,
            ),
            ("ml4t_live_reconnects", "Broker connections regained after a loss", s.reconnects),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        rejected = CounterMetricFamily(
            "ml4t_live_orders_rejected", "Rejected orders by check", labels=["check"]
        )
        for check, count in dict(s.rejections_by_check).items():
            rejected.add_metric([check], count)
        yield rejected
        yield GaugeMetricFamily(
            "ml4t_live_bar_lag_seconds",
            "Clock time minus the last bar's timestamp",
            value=s.last_lag_seconds,
        )
        if s.last_bar_time is not None:
            yield GaugeMetricFamily(
                "ml4t_live_last_bar_timestamp_seconds",
                "Timestamp of the last bar",
                value=s.last_bar_time.timestamp(),
            )
        yield GaugeMetricFamily(
            "ml4t_live_connected", "1 while the broker is connected", value=float(s.connected)
        )
        state = self.context.trading_state
        yield StateSetMetricFamily(
            "ml4t_live_trading_state",
            "ACTIVE, REDUCING or HALTED",
            value={member.value: member is state for member in TradingState},
        )
        yield GaugeMetricFamily(
            "ml4t_live_equity",
            "Account equity (virtual in shadow mode)",
            value=self.context.equity(),
        )
        yield GaugeMetricFamily(
            "ml4t_live_gross_exposure",
            "Sum of |position value|",
            value=self.context.gross_exposure(),
        )
        yield GaugeMetricFamily(
            "ml4t_live_open_positions", "Open positions", value=len(self.context.positions())
        )


class PrometheusExporter:
    """Serves /metrics while a run is in progress."""

    def __init__(self, config: PrometheusConfig | None = None):
        self.config = config or PrometheusConfig()
        self.registry = CollectorRegistry()
        self.callback_seconds = Histogram(
            "ml4t_live_strategy_callback_seconds",
            "Wall time of each on_data call",
            buckets=_CALLBACK_BUCKETS,
            registry=self.registry,
        )
        self._collector: RuntimeCollector | None = None
        self._server: Any = None
        self.port: int | None = None

    @hookimpl
    def ml4t_live_on_run_start(self, stats: RuntimeStats, context: RiskContext) -> None:
        if not self.config.enabled:
            return
        try:
            self._server, _thread = start_http_server(
                self.config.port, addr=self.config.host, registry=self.registry
            )
        except OSError as exc:  # before the strategy starts: refuse to run unobserved by surprise
            raise PluginError(
                f"prometheus: cannot listen on {self.config.host}:{self.config.port} ({exc}); "
                f"choose another [observers.prometheus] port or set enabled = false"
            ) from exc
        self._collector = RuntimeCollector(stats, context)
        self.registry.register(self._collector)
        self.port = self._server.server_port
        log.warning("metrics at http://%s:%d/metrics", self.config.host, self.port)

    @hookimpl
    def ml4t_live_on_bar_done(
        self,
        timestamp: datetime,
        stats: RuntimeStats,
        callback_seconds: float,
        context: RiskContext,
    ) -> None:
        self.callback_seconds.observe(callback_seconds)

    @hookimpl
    def ml4t_live_on_run_end(self, stats: RuntimeStats, context: RiskContext) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and forget the run (the endpoint lives exactly as long as the run)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._collector is not None:
            self.registry.unregister(self._collector)
            self._collector = None
