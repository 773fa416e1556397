"""Fixtures of the docs tests: the example plugin distributions installed into this venv."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "plugins"
#: directory -> distribution name
EXAMPLE_DISTRIBUTIONS = {
    "toybroker": "ml4t-live-example-toybroker",
    "order-limit": "ml4t-live-example-order-limit",
}


def _uv(*args: str) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("the example plugins are installed with uv, which is not on PATH")
    subprocess.run(
        [uv, "pip", *args, "--python", sys.executable],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def example_plugins() -> Iterator[dict[str, Path]]:
    """Install both examples (editable, no deps: ml4t-live and aiohttp are already here) and
    uninstall them afterwards, so their entry points never linger into other runs."""
    paths = {name: EXAMPLES / name for name in EXAMPLE_DISTRIBUTIONS}
    args: list[str] = []
    for path in paths.values():
        args += ["-e", str(path)]
    _uv("install", "--no-deps", *args)
    # An editable install's .pth is read at interpreter start; this process needs the paths now.
    added = [str(p) for p in paths.values() if str(p) not in sys.path]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield paths
    finally:
        for entry in added:
            sys.path.remove(entry)
        _uv("uninstall", *EXAMPLE_DISTRIBUTIONS.values())
        importlib.invalidate_caches()
