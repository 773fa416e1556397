"""Logging: human-readable or JSON lines, per-component levels, and secrets redacted everywhere.

Every runtime logger is `ml4t_live.<component>` (engine, safety, journal, plugins, a broker
plugin's name...). Redaction runs as a filter on the handler, so no formatter, handler or
plugin logger can print a registered secret, an API key from the environment, or a password
inside a URL.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from ml4t_live_core.config import LoggingConfig

ROOT_LOGGER = "ml4t_live"
REDACTED = "***"
#: Environment variables whose values are secrets whatever their name's prefix.
_SECRET_ENV = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|ACCOUNT)", re.IGNORECASE)
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?P<at>@)", re.IGNORECASE
)
#: Values shorter than this are not treated as secrets (redacting "1" would garble every line).
_MIN_SECRET = 4


class SecretRedactor(logging.Filter):
    """Replaces every known secret in a record's message, arguments and traceback."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self._secrets: set[str] = set()
        for value in secrets:
            self.add(value)

    def add(self, value: str | None) -> None:
        if value and len(value) >= _MIN_SECRET:
            self._secrets.add(value)

    def redact(self, text: str) -> str:
        text = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}\g<at>", text)
        for secret in sorted(
            self._secrets, key=len, reverse=True
        ):  # longest first: no partial leaks
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = self.redact(message), None
        return True


#: The process-wide redactor; plugins add the secrets they load with `register_secret`.
redactor = SecretRedactor()


def register_secret(value: str | None) -> None:
    """Never print `value` (an API key, a password, an account id) in any log line."""
    redactor.add(value)


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> None:
    """Register the values of environment variables that look like credentials."""
    for name, value in (os.environ if environ is None else environ).items():
        if _SECRET_ENV.search(name):
            register_secret(value)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, component, message, and order id if any.

    Hand-written (a dozen lines) to keep the core free of a logging dependency.
    """

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "component": _component(record.name),
            "message": record.getMessage(),
        }
        for key in ("order_id", "asset", "check"):
            value = getattr(record, key, None)
            if value is not None:
                payload[key] = value
        return json.dumps(payload, default=str)


def configure(config: LoggingConfig | None = None, *, stream: object = None) -> logging.Handler:
    """Install one handler on the root logger (replacing a previous one of ours), so the
    runtime's and the broker libraries' records alike pass the redactor."""
    config = config or LoggingConfig()
    secrets_from_environment()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_ml4t_live", False)]:
        root.removeHandler(old)
    handler: logging.Handler
    if config.format == "json":
        handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
        handler.setFormatter(JsonLineFormatter())
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(file=stream or sys.stderr), show_path=False)  # type: ignore[arg-type]
    handler.addFilter(redactor)
    handler._ml4t_live = True  # type: ignore[union-attr]  # marks the handler as ours
    root.addHandler(handler)
    root.setLevel(config.level)
    for component, level in config.levels.items():
        logging.getLogger(f"{ROOT_LOGGER}.{component}").setLevel(level)
    return handler


def _component(logger_name: str) -> str:
    return logger_name.removeprefix(f"{ROOT_LOGGER}.") if logger_name != ROOT_LOGGER else "runtime"
