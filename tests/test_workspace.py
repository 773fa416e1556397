"""Packaging: every root extra and default dependency names a workspace plugin distribution."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _members() -> dict[str, Path]:
    found = {}
    for pyproject in ROOT.glob("plugins/**/pyproject.toml"):
        found[tomllib.loads(pyproject.read_text())["project"]["name"]] = pyproject.parent
    return found


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]


def test_extras_and_defaults_resolve_to_workspace_members():
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = _members()
    sources = root["tool"]["uv"]["sources"]
    wanted = [d for d in root["project"]["dependencies"] if d.startswith("ml4t-live")]
    for extra in root["project"]["optional-dependencies"].values():
        wanted += extra
    for requirement in wanted:
        name = _name(requirement)
        assert name in members, f"{requirement} is not a plugin folder under plugins/"
        assert sources.get(name) == {"workspace": True}, f"{name} lacks a workspace source"


def test_each_plugin_has_one_entry_point_in_the_ml4t_live_group():
    for name, folder in _members().items():
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        if name == "ml4t-live-testing":
            assert "pytest11" in project["entry-points"]
            continue
        assert len(project["entry-points"]["ml4t_live"]) == 1, name


def test_uv_lock_is_consistent_with_every_extra():
    """`ml4t-live[...]` resolves in the workspace: the lock file covers every extra."""
    uv = os.environ.get("UV", "uv")  # `uv run` tells its children where it lives
    result = subprocess.run(
        [uv, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
