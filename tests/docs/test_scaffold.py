"""`ml4t-live new-plugin` writes distributions whose generated tests (the conformance kit for a
broker) pass as written, and refuses bad names and existing folders."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml4t_live_core.cli import main
from ml4t_live_core.scaffold import scaffold

from .child_pytest import run_pytest


@pytest.mark.parametrize(
    ("kind", "name", "expected_tests", "may_skip"),
    [
        # the whole BrokerConformance suite; only the fault-injection check may skip (the
        # template has no fault-injecting transport)
        ("broker", "acme-broker", 10, 1),
        ("risk-check", "max-qty", 3, 0),
        ("state-store", "my-store", 16, 0),  # the whole StateStoreContract suite
    ],
)
def test_the_scaffold_passes_its_own_tests(
    tmp_path: Path, kind: str, name: str, expected_tests: int, may_skip: int
):
    result = CliRunner().invoke(main, ["new-plugin", kind, name, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    target = tmp_path / f"ml4t-live-{name}"
    project = tomllib.loads((target / "pyproject.toml").read_text())["project"]
    package = f"ml4t_live_{name.replace('-', '_')}"
    assert project["entry-points"]["ml4t_live"] == {name: f"{package}.plugin"}
    run = run_pytest("-rs", "tests", cwd=target, PYTHONPATH=str(target))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    passed = int(run.stdout.split(" passed")[0].split()[-1])
    skipped = run.stdout.count("SKIPPED")
    assert skipped <= may_skip and passed + skipped >= expected_tests, run.stdout[-1500:]


def test_the_registration_module_registers_the_named_component(tmp_path: Path):
    target = scaffold("risk-check", "max-qty", tmp_path)
    sys.path.insert(0, str(target))
    try:
        from ml4t_live_max_qty import plugin  # type: ignore[import-not-found]

        from ml4t_live_core.plugins import Kind, load_plugins

        registry = load_plugins(entry_points=False, extra=[(plugin, "max-qty")]).registry
        assert registry.names(Kind.RISK_CHECK) == ["max-qty"]
    finally:
        sys.path.remove(str(target))
        for module in [m for m in sys.modules if m.startswith("ml4t_live_max_qty")]:
            del sys.modules[module]


@pytest.mark.parametrize("bad", ["Acme", "acme_broker", "1acme", "acme--x", "-acme", "ac me", ""])
def test_a_bad_name_is_refused(tmp_path: Path, bad: str):
    with pytest.raises(ValueError, match="must be lower-case"):
        scaffold("broker", bad, tmp_path)
    assert not any(tmp_path.iterdir())


def test_an_existing_folder_is_never_overwritten(tmp_path: Path):
    scaffold("broker", "acme", tmp_path)
    marker = tmp_path / "ml4t-live-acme" / "pyproject.toml"
    marker.write_text("mine")
    result = CliRunner().invoke(main, ["new-plugin", "broker", "acme", "--dir", str(tmp_path)])
    assert result.exit_code != 0 and "already exists" in result.output
    assert marker.read_text() == "mine"


def test_an_unknown_kind_is_refused(tmp_path: Path):
    result = CliRunner().invoke(main, ["new-plugin", "feed", "x", "--dir", str(tmp_path)])
    assert result.exit_code != 0 and "feed" in result.output


async def test_the_store_template_sets_a_torn_last_record_aside(tmp_path: Path):
    from ml4t_live_core.state import JournalEvent, JournalRecord

    target = scaffold("state-store", "torn-store", tmp_path)
    sys.path.insert(0, str(target))
    try:
        from ml4t_live_torn_store.store import (  # type: ignore[import-not-found]
            TornStoreConfig,
            TornStoreStore,
        )

        store = TornStoreStore(TornStoreConfig(directory=tmp_path / "state"))
        await store.open()
        record = JournalRecord(
            datetime(2024, 1, 2, tzinfo=UTC), JournalEvent.TRADING_STATE, reasons=("a\nb",)
        )
        await store.append_journal(record)
        with open(store.journal_path, "ab") as handle:
            handle.write(b'{"timestamp": "2024-01-02T00:0')  # a crash mid-append
        assert list(await store.read_journal()) == [record]
        kept = list((tmp_path / "state").glob("journal.jsonl.torn-at-*"))
        assert len(kept) == 1 and kept[0].read_bytes().startswith(b'{"timestamp"')
        assert list(await TornStoreStore(store.config).read_journal()) == [record]
    finally:
        sys.path.remove(str(target))
        for module in [m for m in sys.modules if m.startswith("ml4t_live_torn_store")]:
            del sys.modules[module]


def test_an_installed_scaffold_is_listed_by_ml4t_live_plugins(tmp_path: Path):
    """What the scaffold page promises: install the new distribution and `ml4t-live plugins`
    lists it, found through its entry point."""
    import json
    import shutil

    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("the scaffold is installed with uv, which is not on PATH")
    target = scaffold("broker", "scaffold-probe", tmp_path)
    pip = [uv, "pip", "--quiet"]
    subprocess.run([*pip, "install", "--no-deps", "-e", str(target), "--python", sys.executable],
                   check=True, capture_output=True, timeout=120)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ML4T_LIVE")}
        listed = subprocess.run([sys.executable, "-m", "ml4t_live_core", "plugins", "--json"],
                                env=env, capture_output=True, text=True, timeout=120, check=True)
    finally:
        subprocess.run(
            [*pip, "uninstall", "ml4t-live-scaffold-probe", "--python", sys.executable],
            check=True, capture_output=True, timeout=120,
        )
    info = {i["name"]: i for i in json.loads(listed.stdout)}["scaffold-probe"]
    assert info["distribution"] == "ml4t-live-scaffold-probe"
    assert info["entry_point"] == "scaffold-probe = ml4t_live_scaffold_probe.plugin"
    assert info["registrations"] == ["broker:scaffold-probe"]
