"""The [observers.prometheus] settings, apart from the exporter so that registering the plugin
does not import prometheus_client."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig


class PrometheusConfig(PluginConfig):
    """Section [observers.prometheus]: where the endpoint listens.

    `host` defaults to loopback: metrics reveal positions and equity, so exposing them
    beyond this machine must be a deliberate choice. `port = 0` picks a free port (tests).
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
