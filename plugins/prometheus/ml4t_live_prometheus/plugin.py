"""Entry point of ml4t-live-prometheus: registers the "prometheus" observer.

Every command loads this module, so prometheus_client is imported only when a run builds the
exporter.
"""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_prometheus.config import PrometheusConfig


@hookimpl
def ml4t_live_register_observers(register):  # type: ignore[no-untyped-def]
    register(
        "prometheus",
        deferred("ml4t_live_prometheus.exporter:PrometheusExporter"),
        config=PrometheusConfig,
    )
