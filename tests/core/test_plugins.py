"""Plugin discovery through the `ml4t_live` entry-point group, duplicates, disabling."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

from ml4t_live_core.cli import main
from ml4t_live_core.errors import PluginError
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.plugins import LOAD_ENV_VAR, Kind, load_plugins


def test_sim_plugin_is_discovered_through_its_entry_point(monkeypatch):
    monkeypatch.delenv(LOAD_ENV_VAR, raising=False)
    plugins = load_plugins()
    sim = next(i for i in plugins.infos if i.name == "sim")
    assert sim.distribution == "ml4t-live-sim"
    assert sim.entry_point == "sim = ml4t_live_sim.plugin"
    assert {"broker:sim", "feed:replay", "feed:synthetic"} <= set(sim.registrations)


def test_restricting_entry_points_removes_the_sim_plugin(monkeypatch):
    """Nothing in the core imports the sim plugin: without its entry point, it is gone."""
    monkeypatch.setenv(LOAD_ENV_VAR, "none-such")
    plugins = load_plugins()
    assert plugins.infos == []
    with pytest.raises(PluginError, match="no broker named 'sim'"):
        plugins.registry.get(Kind.BROKER, "sim")


def test_plugins_command_lists_the_sim_plugin(monkeypatch):
    monkeypatch.delenv(LOAD_ENV_VAR, raising=False)
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    sim = next(p for p in json.loads(result.output) if p["name"] == "sim")
    assert (
        sim["distribution"] == "ml4t-live-sim"
        and sim["entry_point"] == "sim = ml4t_live_sim.plugin"
    )
    assert "register_brokers" in " ".join(sim["hooks"]) and "broker:sim" in sim["registrations"]
    table = CliRunner().invoke(main, ["plugins"])
    assert table.exit_code == 0 and "ml4t-live-s" in table.output


class SecondSim:
    @hookimpl
    def ml4t_live_register_brokers(self, register):  # type: ignore[no-untyped-def]
        register("sim", object)


def test_duplicate_registration_names_both_plugins(monkeypatch):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim")
    with pytest.raises(PluginError) as excinfo:
        load_plugins(extra=[(SecondSim(), "impostor")])
    assert "'sim'" in str(excinfo.value) and "'impostor'" in str(excinfo.value)


class ACheck:
    @hookimpl
    def ml4t_live_register_risk_checks(self, register):  # type: ignore[no-untyped-def]
        register("my-check", object)


def test_disabling_a_risk_check_is_loud_and_shown(monkeypatch, caplog):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim")
    with caplog.at_level(logging.WARNING, logger="ml4t_live.plugins"):
        plugins = load_plugins(disable=["my-check"], extra=[(ACheck(), "my-check")])
    assert "RISK CHECK DISABLED" in caplog.text and "my-check" in caplog.text
    assert plugins.registry.names(Kind.RISK_CHECK) == []
    assert next(i for i in plugins.infos if i.name == "my-check").disabled


def test_disabling_an_unknown_name_is_an_error(monkeypatch):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim")
    with pytest.raises(PluginError, match="'duplicat'"):
        load_plugins(disable=["duplicat"])
