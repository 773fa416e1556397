"""Every ```python and ```toml block in docs/ is executed or parsed: TOML must parse, and a full
configuration must validate against the installed plugins (the examples included); Python
runs in a fresh interpreter in a temp directory, except blocks marked title="needs ...",
which must compile."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ml4t_live_core.config import read_raw, validate
from ml4t_live_core.plugins import LOAD_ENV_VAR, load_plugins

from .docs_blocks import NEEDS, blocks

#: The environment the docs tell readers to set (secrets never go in the file).
DOCS_ENVIRON = {"ML4T_LIVE__BROKER__TOYBROKER__API_KEY": "from-the-environment"}
CONFIG_SECTIONS = {"runtime", "logging", "broker", "feed", "state", "risk", "observers", "plugins"}
TOML = blocks("toml")
PYTHON = blocks("python")


def test_the_docs_have_code_to_check():
    assert len(TOML) >= 7 and len(PYTHON) >= 8
    assert {b.lang for b in blocks()} <= {"python", "toml", "bash", "text", "ini"}, (
        "a new block language needs a check in this module"
    )


@pytest.mark.parametrize("block", TOML, ids=[b.id for b in TOML])
def test_toml_block_parses_and_validates(block, example_plugins, monkeypatch, tmp_path: Path):
    raw = tomllib.loads(block.code)
    if set(raw) <= CONFIG_SECTIONS:
        monkeypatch.delenv(LOAD_ENV_VAR, raising=False)
        path = tmp_path / "config.toml"
        path.write_text(block.code)
        environ = {
            k: v
            for k, v in DOCS_ENVIRON.items()
            if k.split("__")[2].lower() in raw.get("broker", {})
        }
        validate(read_raw(path, environ), load_plugins(), source=block.id)
    else:
        assert "project" in raw, f"{block.id}: neither a config nor a pyproject"


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_runs(block, example_plugins, tmp_path: Path):
    if NEEDS in block.info:
        compile(block.code, block.id, "exec")
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML4T_LIVE")}
    result = subprocess.run(
        [sys.executable, "-c", block.code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{block.id} failed:\n{result.stderr[-3000:]}"


def _readme_blocks(lang: str) -> list[str]:
    import re

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def test_the_readme_config_validates_and_its_python_compiles(monkeypatch, tmp_path: Path):
    (config,) = _readme_blocks("toml")
    monkeypatch.delenv(LOAD_ENV_VAR, raising=False)
    path = tmp_path / "live.toml"
    path.write_text(config)
    validate(read_raw(path, {}), load_plugins(), source="README.md")
    for code in _readme_blocks("python"):
        compile(code, "README.md", "exec")  # it names the reader's own strategy class
