"""Typed settings of [broker.toybroker]: where the API is, the key, how often to poll events."""

from __future__ import annotations

from pydantic import AnyHttpUrl, Field, SecretStr

from ml4t_live_core.config import PluginConfig


class ToyBrokerConfig(PluginConfig):
    """ToyBroker REST API settings. Set the key through the environment
    (ML4T_LIVE__BROKER__TOYBROKER__API_KEY), not in the file; it is never logged."""

    base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8765")
    api_key: SecretStr
    poll_interval: float = Field(0.25, gt=0, le=60, allow_inf_nan=False)
    request_timeout: float = Field(5.0, gt=0, le=120, allow_inf_nan=False)
