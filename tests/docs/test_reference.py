"""The generated reference covers every command, config key and hookspec, and the site builds
with `mkdocs build --strict` (broken links, missing snippets, bad API paths fail it)."""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ml4t_live_core import hookspecs
from ml4t_live_core.cli import main
from ml4t_live_core.plugins import LOAD_ENV_VAR, Kind, load_plugins

ROOT = Path(__file__).resolve().parents[2]


def _reference():
    spec = importlib.util.spec_from_file_location(
        "docs_reference_hook", ROOT / "docs/_hooks/reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def all_plugins(monkeypatch):
    monkeypatch.delenv(LOAD_ENV_VAR, raising=False)


def _command_paths(command: click.Command, path: list[str], parent=None) -> list[str]:
    ctx = click.Context(command, info_name=path[-1], parent=parent)
    found = [" ".join(path)]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            found += _command_paths(command.get_command(ctx, name), [*path, name], ctx)
    return found


def test_every_cli_command_and_option_is_in_the_cli_reference():
    text = _reference().cli_markdown()
    paths = _command_paths(main, ["ml4t-live"])
    assert {"ml4t-live run", "ml4t-live new-plugin", "ml4t-live state reset"} <= set(paths)
    for path in paths:
        assert f"`{path}`" in text, f"{path} missing from the CLI reference"
    for option in ("--config", "--shadow", "--report-dir", "--confirm", "--dir"):
        assert option in text


def test_every_plugin_section_and_key_is_in_the_config_reference():
    from ml4t_live_core.config import LoggingConfig, RuntimeConfig

    text = _reference().config_markdown()
    for key in [*RuntimeConfig.model_fields, *LoggingConfig.model_fields]:
        assert f"| `{key}` |" in text
    registry = load_plugins().registry
    for kind in Kind:
        for reg in registry.all(kind):
            assert f"From plugin `{reg.plugin}`" in text
            for key in reg.config.model_fields if reg.config else {}:
                assert f"| `{key}` |" in text, f"{kind.value} {reg.name}: key {key} missing"
    assert "| `max_value` |" in text and "`> 0`" in text  # limits come from the schemas


def test_every_hookspec_is_in_the_hook_reference_with_its_contract():
    text = _reference().hooks_markdown()
    specs = [
        (n, f)
        for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if n.startswith("ml4t_live_")
    ]
    assert len(specs) >= 10
    for name, fn in specs:
        assert f"### `{name}`" in text
        assert inspect.cleandoc(fn.__doc__ or "").splitlines()[0] in text


def test_markers_are_replaced_and_an_unknown_marker_is_an_error():
    reference = _reference()
    page = (ROOT / "docs/reference/hooks.md").read_text()
    assert "<!-- generated:" not in reference.render(page)
    with pytest.raises(ValueError, match="unknown generated section 'nope'"):
        reference.render("<!-- generated: nope -->")


def test_the_site_builds_strict(tmp_path: Path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    uv = shutil.which("uv")
    if mkdocs is not None:
        command = [mkdocs]
    elif uv is not None:  # CI syncs only the dev group: let uv add the locked docs group
        command = [uv, "run", "--frozen", "--group", "docs", "mkdocs"]
    else:
        pytest.fail("mkdocs is not installed: uv sync --group docs (the docs dependency group)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML4T_LIVE")} | {
        "NO_MKDOCS_2_WARNING": "1"
    }
    result = subprocess.run(
        [*command, "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cli_page = (tmp_path / "site/reference/cli/index.html").read_text()
    assert "new-plugin" in cli_page and "<!-- generated" not in cli_page
