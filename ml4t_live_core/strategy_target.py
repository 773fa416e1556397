"""The TARGET argument of `ml4t-live run` and `ml4t-live parity`: `path/to/file.py:ClassName`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import click


def load_strategy_class(target: str) -> type:
    """`path/to/file.py:ClassName` -> the class, loaded from the file; bad input is a usage
    error naming TARGET."""
    path_text, sep, class_name = target.rpartition(":")
    if not sep or not path_text or not class_name:
        raise click.BadParameter("expected path/to/file.py:ClassName", param_hint="TARGET")
    path = Path(path_text)
    if not path.is_file():
        raise click.BadParameter(f"{path} is not a file", param_hint="TARGET")
    spec = importlib.util.spec_from_file_location(f"ml4t_live_user_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise click.BadParameter(f"{path} is not a Python module", param_hint="TARGET")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise click.BadParameter(f"{path} has no class {class_name!r}", param_hint="TARGET")
    from ml4t.backtest import Strategy  # here: the operational commands never import it

    if not issubclass(cls, Strategy):
        raise click.BadParameter(
            f"{class_name} in {path} is not an ml4t.backtest Strategy subclass",
            param_hint="TARGET",
        )
    return cls


def new_strategy(cls: type) -> Any:
    """`cls()`; a class that needs constructor arguments is a usage error (the runtime makes
    the instance, so there is nowhere to pass them)."""
    try:
        return cls()
    except TypeError as exc:
        raise click.BadParameter(
            f"{cls.__name__}() must be constructible without arguments: {exc}"
        ) from None
