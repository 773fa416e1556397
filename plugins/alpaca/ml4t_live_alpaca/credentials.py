"""Alpaca API credentials from the environment: loaded once, never printed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ml4t_live_core.errors import ConfigError
from ml4t_live_core.logs import register_secret


@dataclass(frozen=True, slots=True)
class Credentials:
    """Key id and secret; `repr` shows neither, so they cannot leak through a traceback."""

    key_id: str = field(repr=False)
    secret: str = field(repr=False)

    def redact(self, text: str) -> str:
        """`text` with both values masked (for error messages built from server answers)."""
        for value in (self.secret, self.key_id):
            text = text.replace(value, "***")
        return text


def load_credentials(
    key_env: str, secret_env: str, environ: Mapping[str, str] | None = None
) -> Credentials:
    """Read both variables; a missing one is a `ConfigError` naming the variable, not a value."""
    env = os.environ if environ is None else environ
    missing = [name for name in (key_env, secret_env) if not env.get(name, "").strip()]
    if missing:
        raise ConfigError(
            f"Alpaca credentials missing: set the environment variable(s) {', '.join(missing)}",
            section="broker.alpaca",
        )
    credentials = Credentials(env[key_env].strip(), env[secret_env].strip())
    register_secret(credentials.key_id)
    register_secret(credentials.secret)
    return credentials
