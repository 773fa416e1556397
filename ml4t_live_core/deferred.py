"""`deferred("package.module:Factory")`: a component factory imported when first called.

A plugin registers its broker, feed or store through it so that loading the plugin (which every
command does, `ml4t-live halt` included) does not import the SDK behind it (ib_async, alpaca-py,
redis, ml4t-backtest...); the import happens when a run builds the component.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from typing import Any

from ml4t_live_core.errors import PluginError
from ml4t_live_core.plugins import ENTRY_POINT_GROUP


class Deferred:
    """Calls `module:attribute` with the factory's arguments, importing it on the first call."""

    __slots__ = ("target", "_loaded")

    def __init__(self, target: str):
        module, sep, attribute = target.partition(":")
        if not (sep and module and attribute):
            raise ValueError(f"deferred factory {target!r} is not 'package.module:Attribute'")
        self.target = target
        self._loaded: Callable[..., Any] | None = None

    def load(self) -> Callable[..., Any]:
        """The factory itself; a missing dependency is a `PluginError` naming the package."""
        if self._loaded is None:
            module_name, _, attribute = self.target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                raise PluginError(
                    f"{self.target} cannot be built: it needs the Python package "
                    f"{(exc.name or '?').partition('.')[0]!r}, which is not installed; reinstall "
                    f"{_distribution(module_name)} with its dependencies"
                ) from exc
            except ImportError as exc:  # e.g. an SDK version without a name the plugin uses
                raise PluginError(f"{self.target} cannot be built: {exc}") from exc
            try:
                self._loaded = getattr(module, attribute)
            except AttributeError:
                raise PluginError(
                    f"{self.target} cannot be built: {module_name} has no {attribute!r}"
                ) from None
        return self._loaded

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"deferred({self.target!r})"


def deferred(target: str) -> Deferred:
    """A factory for `register(name, factory, config=...)` that imports `target` when called."""
    return Deferred(target)


def _distribution(module_name: str) -> str:
    """The distribution that ships `module_name` (editable installs are found by entry point)."""
    top = module_name.partition(".")[0]
    names = importlib.metadata.packages_distributions().get(top)
    if names:
        return names[0]
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.module.partition(".")[0] == top and ep.dist is not None:
            return ep.dist.name
    return f"the distribution that provides {top!r}"
