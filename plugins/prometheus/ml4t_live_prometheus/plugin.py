"""Entry point of ml4t-live-prometheus: registers the "prometheus" observer."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_prometheus.exporter import PrometheusConfig, PrometheusExporter


@hookimpl
def ml4t_live_register_observers(register):  # type: ignore[no-untyped-def]
    register("prometheus", PrometheusExporter, config=PrometheusConfig)
