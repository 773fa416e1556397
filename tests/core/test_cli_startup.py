"""The operational commands (halt, resume, reduce, state, journal, status, plugins, --help) must
not import ml4t-backtest (pandas, polars) nor any plugin's SDK: an emergency halt should not
wait seconds for libraries it never uses. Checked by what is in `sys.modules`, never by timing."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml4t_live_core.deferred import Deferred, deferred
from ml4t_live_core.errors import PluginError
from ml4t_live_core.plugins import ENTRY_POINT_GROUP, LOAD_ENV_VAR, Kind, load_plugins

#: What a run needs and the state commands must not pay for.
HEAVY = (
    "ml4t.backtest",
    "pandas",
    "polars",
    "numpy",
    "ib_async",
    "alpaca",
    "redis",
    "prometheus_client",
    "matplotlib",
    "aiohttp",
    "ml4t_live_core.engine",
)

#: Runs one command in-process, then reports its exit code and the heavy modules it imported.
_PROBE = """
import json, sys
from ml4t_live_core.cli import main
try:
    main(json.loads(sys.argv[1]), prog_name="ml4t-live")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
print(json.dumps({"code": code, "heavy": [m for m in json.loads(sys.argv[2]) if m in sys.modules]}))
"""


def _shipped_plugins() -> str:
    """Every installed plugin except the docs' examples (the docs tests install those, and an
    example may import what it likes)."""
    return ",".join(
        ep.name
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if not (ep.dist and ep.dist.name.startswith("ml4t-live-example-"))
    )


def probe(*args: str) -> dict[str, object]:
    env = {**os.environ, LOAD_ENV_VAR: _shipped_plugins(), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture
def state_config(tmp_path: Path) -> Path:
    config = tmp_path / "live.toml"
    config.write_text(f'[state]\nuse = "json"\n[state.json]\ndirectory = "{tmp_path / "state"}"\n')
    return config


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("halt", "--help"),
        ("plugins",),
        ("plugins", "--json"),
        ("halt", "--reason", "probe", "--config", "{config}"),
        ("reduce", "--reason", "probe", "--config", "{config}"),
        ("resume", "--confirm", "--config", "{config}"),
        ("state", "show", "--config", "{config}"),
        ("journal", "--config", "{config}"),
        ("status", "--config", "{config}"),
    ],
    ids=lambda args: " ".join(a for a in args if a != "{config}"),
)
def test_operational_command_imports_no_backtest_and_no_sdk(
    args: tuple[str, ...], state_config: Path
) -> None:
    report = probe(*(str(state_config) if a == "{config}" else a for a in args))
    assert report["code"] == 0
    assert report["heavy"] == [], f"`ml4t-live {' '.join(args)}` imported {report['heavy']}"


def test_halt_still_writes_the_state_it_reports(state_config: Path) -> None:
    """The light path is the real one: the halt lands in the store `state show` reads."""
    assert probe("halt", "--reason", "probe", "--config", str(state_config))["code"] == 0
    shown = subprocess.run(
        [sys.executable, "-m", "ml4t_live_core", "state", "show", "--config", str(state_config)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "halted" in shown.stdout and "manual halt: probe" in shown.stdout


def test_a_deferred_factory_imports_its_sdk_when_the_component_is_built() -> None:
    """The control for the probe above: the SDK does load, at build time, from the registry."""
    code = """
import sys
from ml4t_live_core.plugins import Kind, load_plugins
from ml4t_live_state_redis.config import RedisStateConfig
registry = load_plugins().registry
before = "redis" in sys.modules
store = registry.get(Kind.STATE_STORE, "redis").factory(RedisStateConfig())
print(before, "redis" in sys.modules, type(store).__name__)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, LOAD_ENV_VAR: "state-redis"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "RedisStateStore"]


def test_every_shipped_broker_feed_and_store_is_deferred(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registration stays cheap only if each heavy component is registered through `deferred`."""
    monkeypatch.setenv(LOAD_ENV_VAR, _shipped_plugins())
    registry = load_plugins().registry
    for kind in (Kind.BROKER, Kind.FEED, Kind.FEED_WRAPPER, Kind.OBSERVER):
        for reg in registry.all(kind):
            assert isinstance(reg.factory, Deferred), f"{kind.value} {reg.name}: {reg.factory}"
    redis = registry.get(Kind.STATE_STORE, "redis")
    assert isinstance(redis.factory, Deferred)


def test_a_missing_sdk_is_reported_when_built_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "needs_sdk_plugin.py").write_text(
        "import an_sdk_that_is_not_installed\n\nclass Broker:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    factory = deferred("needs_sdk_plugin:Broker")  # registering imports nothing
    assert "needs_sdk_plugin" not in sys.modules
    with pytest.raises(
        PluginError, match=r"needs_sdk_plugin:Broker .*'an_sdk_that_is_not_installed'"
    ):
        factory(None)


def test_a_deferred_target_that_does_not_exist_is_a_plugin_error() -> None:
    with pytest.raises(PluginError, match=r"ml4t_live_core.errors has no 'NoSuchBroker'"):
        deferred("ml4t_live_core.errors:NoSuchBroker")(None)


def test_a_deferred_target_must_name_module_and_attribute() -> None:
    with pytest.raises(ValueError, match="package.module:Attribute"):
        deferred("ml4t_live_sim.broker.SimBroker")


def test_halt_on_a_store_whose_client_is_missing_names_the_package(tmp_path: Path) -> None:
    """Plugins load without their SDK now, so a missing one shows when the store is built: one
    clear line naming the package and the distribution to reinstall, not a traceback."""
    config = tmp_path / "live.toml"
    config.write_text('[state]\nuse = "redis"\n')
    code = (
        "import sys\n"
        "sys.modules['redis'] = None  # as if the redis client were not installed\n"
        "from ml4t_live_core.cli import main\n"
        f"main(['halt', '--reason', 'probe', '--config', {str(config)!r}], prog_name='ml4t-live')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, LOAD_ENV_VAR: _shipped_plugins(), "COLUMNS": "200"},
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "needs the Python package 'redis'" in result.stderr
    assert "ml4t-live-state-redis" in result.stderr
