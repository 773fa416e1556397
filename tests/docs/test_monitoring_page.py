"""The monitoring page's metric table is exactly what the Prometheus plugin serves."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ml4t_live_prometheus.exporter import PrometheusExporter, RuntimeCollector

from ml4t_live_core.risk import TradingState
from ml4t_live_core.stats import RuntimeStats

from .docs_blocks import DOCS


class _Account:
    """The four account reads the collector makes (a finished run's view)."""

    trading_state = TradingState.ACTIVE

    def equity(self) -> float:
        return 100_000.0

    def gross_exposure(self) -> float:
        return 0.0

    def positions(self) -> dict:
        return {}


def _served() -> dict[str, str]:
    exporter = PrometheusExporter()
    stats = RuntimeStats(last_bar_time=datetime(2024, 1, 2, 14, 30, tzinfo=UTC))
    stats.rejections_by_check["broker"] = 1
    exporter.registry.register(RuntimeCollector(stats, _Account()))  # type: ignore[arg-type]
    exporter.callback_seconds.observe(0.01)
    served = {}
    for family in exporter.registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        served[name] = {"stateset": "state set"}.get(family.type, family.type)
    return served


def test_every_served_metric_is_documented_with_its_type_and_nothing_else():
    page = (DOCS / "operations" / "monitoring.md").read_text()
    documented = dict(re.findall(r"^\| `(ml4t_live_\w+)` \| ([a-z ]+) \|", page, re.MULTILINE))
    assert documented == _served()
