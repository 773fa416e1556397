"""Developer sessions: tests, isolation (each plugin alone with the core), lint, types, docs,
bench."""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests"]
ROOT = Path(__file__).parent
PLUGINS = sorted(p.parent for p in ROOT.glob("plugins/**/pyproject.toml"))


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The whole suite in the workspace environment (what CI runs)."""
    session.run("uv", "run", "pytest", *session.posargs)


def _third_party_deps(pyproject: Path) -> list[str]:
    deps = tomllib.loads(pyproject.read_text())["project"].get("dependencies", [])
    return [d for d in deps if not d.startswith("ml4t-live")]


@nox.session
@nox.parametrize("plugin", [str(p.relative_to(ROOT)) for p in PLUGINS])
def isolation(session: nox.Session, plugin: str) -> None:
    """Install the core without the default plugins, then one plugin alone, and run its tests."""
    session.install("--no-deps", "-e", ".")
    session.install(*_third_party_deps(ROOT / "pyproject.toml"))
    session.install("pytest", "pytest-asyncio", "pytest-timeout", "hypothesis", "psutil")
    if plugin != "plugins/testing":
        session.install("--no-deps", "-e", "plugins/testing")
        session.install(*_third_party_deps(ROOT / "plugins/testing/pyproject.toml"))
    session.install("--no-deps", "-e", plugin)
    deps = _third_party_deps(ROOT / plugin / "pyproject.toml")
    if deps:
        session.install(*deps)
    session.run("pytest", "-p", "no:cacheprovider", plugin, *session.posargs)


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    session.run("uvx", "ruff", "check", ".")


@nox.session(python=False)
def types(session: nox.Session) -> None:
    """mypy over the core and every plugin package."""
    packages = sorted(
        p.relative_to(ROOT)
        for pattern in ("plugins/*/ml4t_live_*", "plugins/risk/*/ml4t_live_*")
        for p in ROOT.glob(pattern)
        if p.is_dir()
    )
    session.run("uv", "run", "--with", "mypy", "mypy", "ml4t_live_core", *map(str, packages))


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """Build the site (reference pages generated from the code) with warnings as errors."""
    session.run("uv", "run", "--group", "docs", "mkdocs", "build", "--strict", *session.posargs)


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Run every benchmark; each prints JSON and writes it under bench-results/."""
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("uv", "run", "python", str(script), *session.posargs)
