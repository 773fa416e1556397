"""Error types of the runtime: each says what went wrong and what to do about it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ml4t_live_core.risk_error import RiskLimitError as RiskLimitError


class ConfigError(ValueError):
    """A configuration file or value is invalid; names the file, section and key."""

    def __init__(self, message: str, *, source: str = "", section: str = "", key: str = ""):
        where = ", ".join(
            part
            for part in (
                f"file {source}" if source else "",
                f"section [{section}]" if section else "",
                f"key {key!r}" if key else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.source, self.section, self.key = source, section, key


class PluginError(RuntimeError):
    """Plugins could not be composed (duplicate names, unknown plugin, bad factory)."""


class StateCorruptError(RuntimeError):
    """Persisted state cannot be trusted; trading stops until a person inspects it."""

    def __init__(self, backend: str, location: str, problem: str):
        self.backend, self.location, self.problem = backend, location, problem
        super().__init__(
            f"{backend} state at {location} is unusable ({problem}); refusing to trade. "
            f"Inspect it with `ml4t-live state show`, and reset it only on purpose with "
            f"`ml4t-live state reset --confirm`."
        )


class StateUnavailableError(RuntimeError):
    """The state backend cannot be reached now (server down, too slow, login refused); what
    was asked was not written. Backends raise a subclass naming themselves and the location."""


class FeedError(RuntimeError):
    """The feed cannot deliver what the config asks for (missing or malformed data, no
    market-data permission); feeds raise a subclass naming the source and what is wrong."""


class BrokerUnavailableError(RuntimeError):
    """The broker cannot take orders now (disconnected, timed out); the order was not sent."""


class BacktestOnlyError(NotImplementedError):
    """A backtest-only broker feature was called in a live run."""

    def __init__(self, method: str, why: str = ""):
        self.method = method
        detail = f": {why}" if why else ""
        super().__init__(f"broker.{method}() is backtest-only and not available live{detail}")


#: The runtime's own errors that already say what is wrong and where: the command line shows
#: them as one line and a non-zero exit, never as a traceback (`cli`, `state_commands`).
ONE_LINE_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    PluginError,
    StateCorruptError,
    StateUnavailableError,
    BrokerUnavailableError,
    FeedError,
)


def __getattr__(name: str) -> Any:
    # RiskLimitError subclasses ml4t-backtest's TradingControlViolation; importing ml4t.backtest
    # costs seconds (pandas, polars), so it loads only when the error type is asked for.
    if name == "RiskLimitError":
        from ml4t_live_core.risk_error import RiskLimitError

        return RiskLimitError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

