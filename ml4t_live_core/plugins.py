"""The plugin manager: loads the `ml4t_live` entry-point group and owns the registries.

Built-in plugins (sim, aggregator, risk checks, state backends) register through the same
entry-point group as third-party ones; nothing here knows their names.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pluggy
from pydantic import BaseModel

from ml4t_live_core import hookspecs
from ml4t_live_core.errors import PluginError

log = logging.getLogger("ml4t_live.plugins")

ENTRY_POINT_GROUP = "ml4t_live"
#: Comma-separated entry-point names; when set, only those plugins load
#: (like llm's LLM_LOAD_PLUGINS).
LOAD_ENV_VAR = "ML4T_LIVE_LOAD_PLUGINS"


class Kind(StrEnum):
    BROKER = "broker"
    FEED = "feed"
    FEED_WRAPPER = "feed_wrapper"
    STATE_STORE = "state_store"
    RISK_CHECK = "risk_check"
    OBSERVER = "observer"
    DEMO_VENUE = "demo_venue"


_REGISTRATION_HOOKS = {
    Kind.BROKER: "ml4t_live_register_brokers",
    Kind.FEED: "ml4t_live_register_feeds",
    Kind.FEED_WRAPPER: "ml4t_live_register_feed_wrappers",
    Kind.STATE_STORE: "ml4t_live_register_state_stores",
    Kind.RISK_CHECK: "ml4t_live_register_risk_checks",
    Kind.OBSERVER: "ml4t_live_register_observers",
    Kind.DEMO_VENUE: "ml4t_live_register_demo_venues",
}


@dataclass(frozen=True, slots=True)
class Registration:
    """One named component a plugin contributed, with its typed config schema."""

    kind: Kind
    name: str
    factory: Callable[..., Any]
    config: type[BaseModel] | None
    plugin: str


@dataclass(slots=True)
class PluginInfo:
    """What `ml4t-live plugins` shows for one discovered plugin."""

    name: str
    distribution: str
    version: str
    entry_point: str
    hooks: list[str] = field(default_factory=list)
    registrations: list[str] = field(default_factory=list)
    disabled: bool = False


class Registry:
    """Named components by kind; a name registered twice is an error naming both plugins."""

    def __init__(self) -> None:
        self._items: dict[Kind, dict[str, Registration]] = {kind: {} for kind in Kind}

    def collect(self, pm: pluggy.PluginManager) -> None:
        for kind, hook_name in _REGISTRATION_HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                impl.function(register=self._register_callback(kind, impl.plugin_name))

    def _register_callback(self, kind: Kind, plugin: str) -> Callable[..., None]:
        def register(
            name: str, factory: Callable[..., Any], *, config: type[BaseModel] | None = None
        ) -> None:
            self.add(Registration(kind, name, factory, config, plugin))

        return register

    def add(self, registration: Registration) -> None:
        existing = self._items[registration.kind].get(registration.name)
        if existing is not None:
            raise PluginError(
                f"{registration.kind.value} {registration.name!r} is registered twice: by plugin "
                f"{existing.plugin!r} and by plugin {registration.plugin!r}; "
                f"uninstall or disable one"
            )
        self._items[registration.kind][registration.name] = registration

    def get(self, kind: Kind, name: str) -> Registration:
        try:
            return self._items[kind][name]
        except KeyError:
            known = ", ".join(sorted(self._items[kind])) or "none installed"
            raise PluginError(
                f"no {kind.value} named {name!r} is installed (known: {known})"
            ) from None

    def names(self, kind: Kind) -> list[str]:
        return sorted(self._items[kind])

    def all(self, kind: Kind) -> list[Registration]:
        return [self._items[kind][name] for name in sorted(self._items[kind])]

    def remove(self, kind: Kind, name: str) -> Registration | None:
        return self._items[kind].pop(name, None)


class Plugins:
    """The loaded plugin manager, its registry and what was found, disabled or blocked."""

    def __init__(self, pm: pluggy.PluginManager, registry: Registry, infos: list[PluginInfo]):
        self.pm = pm
        self.registry = registry
        self.infos = infos

    @property
    def hook(self) -> Any:
        return self.pm.hook


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def load_plugins(
    disable: Iterable[str] = (),
    extra: Iterable[tuple[object, str]] = (),
    *,
    entry_points: bool = True,
) -> Plugins:
    """Load every installed plugin, apply `disable`, register `extra` (name, object) pairs.

    A disabled name that matches no plugin and no registered component is an error: a typo
    in `[plugins] disable` must not leave the user believing a check is off (or on).
    """
    pm = new_plugin_manager()
    infos: dict[str, PluginInfo] = {}
    if entry_points:
        only = _only_from_env()
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if only is not None and ep.name not in only:
                continue
            if pm.get_plugin(ep.name) is not None:
                other = infos[ep.name]
                raise PluginError(
                    f"plugin name {ep.name!r} is provided twice: by {other.distribution} and by "
                    f"{ep.dist.name if ep.dist else '?'}; uninstall one"
                )
            try:
                module = ep.load()
            except Exception as exc:  # a broken third-party plugin must say who it is
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
            pm.register(module, name=ep.name)
            infos[ep.name] = PluginInfo(
                name=ep.name,
                distribution=ep.dist.name if ep.dist else "?",
                version=ep.dist.version if ep.dist else "?",
                entry_point=f"{ep.name} = {ep.value}",
            )
    for obj, name in extra:
        pm.register(obj, name=name)
        infos[name] = PluginInfo(name=name, distribution="(in-process)", version="", entry_point="")

    registry = Registry()
    registry.collect(pm)
    _apply_disable(pm, registry, infos, set(disable))
    for name, info in infos.items():
        plugin = pm.get_plugin(name)
        if plugin is not None:
            info.hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
    for kind in Kind:
        for reg in registry.all(kind):
            if reg.plugin in infos:
                infos[reg.plugin].registrations.append(f"{kind.value}:{reg.name}")
    return Plugins(pm, registry, sorted(infos.values(), key=lambda i: i.name))


def _apply_disable(
    pm: pluggy.PluginManager, registry: Registry, infos: dict[str, PluginInfo], disable: set[str]
) -> None:
    for name in sorted(disable):
        removed = [reg for kind in Kind if (reg := registry.remove(kind, name)) is not None]
        plugin = pm.get_plugin(name)
        if plugin is None and not removed:
            raise PluginError(
                f"[plugins] disable names {name!r}, but no installed plugin or component has that "
                f"name (installed: {', '.join(sorted(infos)) or 'none'})"
            )
        if plugin is not None:
            for kind in Kind:
                for reg in list(registry.all(kind)):
                    if reg.plugin == name and (gone := registry.remove(kind, reg.name)) is not None:
                        removed.append(gone)
            pm.unregister(plugin)
            pm.set_blocked(name)
            infos[name].disabled = True
        checks = [reg.name for reg in removed if reg.kind is Kind.RISK_CHECK]
        if checks:
            log.warning(
                "RISK CHECK DISABLED by config: %s. Orders will NOT be checked for it.",
                ", ".join(checks),
            )
        else:
            log.warning("plugin %r disabled by config", name)


def _only_from_env() -> set[str] | None:
    raw = os.environ.get(LOAD_ENV_VAR)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}
