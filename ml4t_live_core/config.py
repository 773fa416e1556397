"""One TOML file plus environment variables, validated against every plugin's typed schema.

Layout::

    [runtime]            core settings (RuntimeConfig)
    [logging]            format = "text" | "json", level, levels per component
    [broker]  use = "sim"      + [broker.<name>] that plugin's settings
    [feed]    use = "replay"   + [feed.<name>];  aggregate = "1min" wraps it in the aggregator
    [state]   use = "json"     + [state.<name>]
    [risk.<check>]       one section per risk check
    [observers.<name>]   one section per observer (metrics exporters)
    [plugins] disable = [...]

Any key can be overridden with ``ML4T_LIVE__SECTION__KEY=value`` (``__`` separates levels;
the value is parsed as a TOML literal when it is one, else taken as a string).
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ml4t_live_core.errors import ConfigError
from ml4t_live_core.history import DEFAULT_HISTORY_LIMIT
from ml4t_live_core.plugins import Kind, Plugins, load_plugins
from ml4t_live_core.strategy_time import StrategyTimestamps

ENV_PREFIX = "ML4T_LIVE__"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class PluginConfig(BaseModel):
    """Base for plugin schemas: unknown keys are errors, values are validated once."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RuntimeConfig(PluginConfig):
    """Core engine and safety settings (section [runtime])."""

    shadow: bool = False
    on_error: Literal["continue", "halt"] = "halt"
    #: What happens to bars that arrive while the strategy is still busy with the previous one:
    #: "block" makes the feed wait (every bar is seen, lag grows and is reported);
    #: "latest" keeps only the newest waiting bar and counts the ones it skipped.
    busy_policy: Literal["block", "latest"] = "block"
    raise_on_rejection: bool = False
    #: Seconds the broker may take to acknowledge an order, cancel or modify; an order with no
    #: answer by then comes back PENDING under its client id (reconciliation decides).
    order_timeout: float = Field(default=10.0, gt=0)
    #: Seconds a read that needs the event loop may take; order calls from the strategy wait
    #: order_timeout + getter_timeout, then raise BrokerUnavailableError naming the call.
    getter_timeout: float = Field(default=2.0, gt=0)
    timezone: str = "America/New_York"
    #: Local time (in `timezone`) at which the next trading day begins, on the evening before
    #: it: the daily-loss base, start-of-day equity and the day's order count roll then.
    #: Midnight by default; 17:00 in America/Chicago for CME Globex, 17:00 in
    #: America/New_York for FX. Midnight or a time from 12:00 on.
    trading_day_starts: dt.time = dt.time(0)
    #: The timestamp `on_data` receives (and datetimes in its `context`): "feed" as the feed
    #: delivers it (aware, usually UTC); "local" converted to `timezone`; "naive-local" local
    #: wall time without tzinfo, as ml4t-backtest passes it for naive price data.
    strategy_timestamps: StrategyTimestamps = "feed"
    account: str = "default"
    strategy_id: str | None = None
    client_order_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.]{1,32}$")
    warmup_bars: int = Field(default=0, ge=0)
    #: Journal an equity mark at most this often (bar time); 0 marks every bar. Reports and
    #: `ml4t-live status` draw equity and drawdown from these marks.
    mark_every_seconds: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    #: Finished orders, fills and rejected orders kept in memory (the most recent of each) for
    #: `get_orders`, `get_order`, `get_fills` and `get_rejected_orders`; open orders are always
    #: kept. Bounds a long-running process's memory; the journal keeps the full record.
    history_limit: int = Field(default=DEFAULT_HISTORY_LIMIT, gt=0, strict=True)

    @field_validator("trading_day_starts")
    @classmethod
    def _local_time(cls, value: dt.time) -> dt.time:
        if value.tzinfo is not None:
            raise ValueError("give a local time in runtime.timezone, without an offset (17:00)")
        if dt.time(0) < value < dt.time(12):
            raise ValueError(
                f"{value.isoformat('minutes')} is in the morning; this is when the next trading "
                "day begins on the evening before (17:00 for CME Globex), or 00:00"
            )
        return value


class LoggingConfig(PluginConfig):
    """Section [logging]: `format` text|json, a default `level`, and `levels` per component
    (`levels = { engine = "INFO", journal = "DEBUG" }`)."""

    format: Literal["text", "json"] = "text"
    level: LogLevel = "WARNING"
    levels: dict[str, LogLevel] = Field(default_factory=dict)


class _Selection(BaseModel):
    model_config = ConfigDict(extra="allow")
    use: str


@dataclass(slots=True)
class LiveConfig:
    """A validated configuration: which plugins to compose, each with its typed config."""

    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    broker: str = "sim"
    broker_config: Any = None
    feed: str = "replay"
    feed_config: Any = None
    wrappers: list[tuple[str, Any]] = field(default_factory=list)
    state: str | None = None
    state_config: Any = None
    risk: dict[str, Any] = field(default_factory=dict)
    observers: dict[str, Any] = field(default_factory=dict)
    disable: list[str] = field(default_factory=list)
    source: str = "<defaults>"


def read_raw(path: str | Path | None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Parse the TOML file (if any) and apply environment overrides; no schema yet."""
    raw: dict[str, Any] = {}
    source = str(path) if path else "<defaults>"
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError("file not found", source=source) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    _apply_env(raw, os.environ if environ is None else environ)
    return raw


def load_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    extra_plugins: Iterable[tuple[object, str]] = (),
    environ: Mapping[str, str] | None = None,
) -> tuple[LiveConfig, Plugins]:
    """Read the file, apply env and `overrides`, load plugins (honouring `disable`), validate."""
    raw = read_raw(path, environ)
    _merge(raw, overrides or {})
    source = str(path) if path else "<defaults>"
    plugins = load_plugins(disabled_plugins(raw, source), extra=extra_plugins)
    return validate(raw, plugins, source), plugins


def disabled_plugins(raw: Mapping[str, Any], source: str = "<defaults>") -> list[str]:
    section = raw.get("plugins", {})
    if not isinstance(section, dict):
        raise ConfigError("must be a table", source=source, section="plugins")
    unknown = set(section) - {"disable"}
    if unknown:
        raise ConfigError("unknown key", source=source, section="plugins", key=sorted(unknown)[0])
    disable = section.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(n, str) for n in disable):
        raise ConfigError(
            "must be a list of plugin names", source=source, section="plugins", key="disable"
        )
    return list(disable)


def validate(raw: Mapping[str, Any], plugins: Plugins, source: str = "<defaults>") -> LiveConfig:
    """Check every section against the core schema and the schemas the plugins registered."""
    known = {"runtime", "logging", "broker", "feed", "state", "risk", "observers", "plugins"}
    for section in raw:
        if section not in known:
            raise ConfigError(
                f"unknown section (known: {', '.join(sorted(known))})",
                source=source,
                section=section,
            )
    cfg = LiveConfig(source=source, disable=disabled_plugins(raw, source))
    cfg.runtime = _model(RuntimeConfig, raw.get("runtime", {}), source, "runtime")
    cfg.logging = _model(LoggingConfig, raw.get("logging", {}), source, "logging")

    cfg.broker, cfg.broker_config = _select(raw, "broker", "sim", Kind.BROKER, plugins, source)
    cfg.feed, cfg.feed_config = _select(
        raw, "feed", "replay", Kind.FEED, plugins, source, extra_keys={"aggregate", "aggregator"}
    )
    feed_section = raw.get("feed", {})
    if "aggregate" in feed_section:
        reg = plugins.registry.get(Kind.FEED_WRAPPER, "aggregate")
        options = {"interval": feed_section["aggregate"], **feed_section.get("aggregator", {})}
        cfg.wrappers.append(("aggregate", _model(reg.config, options, source, "feed.aggregator")))
    if raw.get("state") is not None or plugins.registry.names(Kind.STATE_STORE):
        default_state = "json" if "json" in plugins.registry.names(Kind.STATE_STORE) else None
        if raw.get("state") is not None or default_state:
            cfg.state, cfg.state_config = _select(
                raw, "state", default_state, Kind.STATE_STORE, plugins, source
            )

    cfg.risk = _per_component(raw, "risk", Kind.RISK_CHECK, plugins, source)
    cfg.observers = _per_component(raw, "observers", Kind.OBSERVER, plugins, source)
    return cfg


def _per_component(
    raw: Mapping[str, Any], section: str, kind: Kind, plugins: Plugins, source: str
) -> dict[str, Any]:
    """[<section>.<name>] tables, one per installed component of `kind`, each validated."""
    body = raw.get(section, {})
    if not isinstance(body, dict):
        raise ConfigError(
            f"must be a table of [{section}.<name>] sections", source=source, section=section
        )
    # Env overrides cannot spell '-', so ORDER_SIZE addresses [risk.order-size].
    body = {name.replace("_", "-"): value for name, value in body.items()}
    installed = plugins.registry.names(kind)
    for name in body:
        if name not in installed:
            raise ConfigError(
                f"no {kind.value.replace('_', ' ')} {name!r} is installed and enabled "
                f"(installed: {', '.join(installed) or 'none'})",
                source=source,
                section=f"{section}.{name}",
            )
    return {
        reg.name: _model(reg.config, body.get(reg.name, {}), source, f"{section}.{reg.name}")
        for reg in plugins.registry.all(kind)
    }


def _select(
    raw: Mapping[str, Any],
    section: str,
    default: str | None,
    kind: Kind,
    plugins: Plugins,
    source: str,
    extra_keys: set[str] = frozenset(),  # type: ignore[assignment]
) -> tuple[str, Any]:
    body = raw.get(section, {})
    if not isinstance(body, dict):
        raise ConfigError("must be a table", source=source, section=section)
    name = body.get("use", default)
    if not isinstance(name, str):
        raise ConfigError(
            f"say which {kind.value} plugin to use", source=source, section=section, key="use"
        )
    names = set(plugins.registry.names(kind))
    for key, value in body.items():
        if key == "use" or key in extra_keys:
            continue
        if not isinstance(value, dict) or key not in names:
            raise ConfigError(
                f"unknown key; expected 'use' or a [{section}.<plugin>] table for one of: "
                f"{', '.join(sorted(names)) or 'none installed'}",
                source=source,
                section=section,
                key=key,
            )
    try:
        reg = plugins.registry.get(kind, name)
    except Exception as exc:
        raise ConfigError(str(exc), source=source, section=section, key="use") from None
    return name, _model(reg.config, body.get(name, {}), source, f"{section}.{name}")


def _model(schema: type[BaseModel] | None, values: Any, source: str, section: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError("must be a table", source=source, section=section)
    if schema is None:
        if values:
            raise ConfigError(
                "this plugin takes no settings",
                source=source,
                section=section,
                key=next(iter(values)),
            )
        return None
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "?"
        raise ConfigError(first["msg"], source=source, section=section, key=key) from None


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            continue
        node = raw
        for part in path[:-1]:
            part = _match_key(node, part)
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name} addresses a non-table")
        node[_match_key(node, path[-1])] = _parse_env_value(value)


def _match_key(node: dict[str, Any], part: str) -> str:
    for key in node:
        if key.lower().replace("-", "_") == part.replace("-", "_"):
            return key
    return part


def _parse_env_value(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
