"""Config: a bad file names the file, section and key; env overrides; plugin schemas apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml4t_live_core.compose import load_config
from ml4t_live_core.errors import ConfigError
from ml4t_live_core.plugins import LOAD_ENV_VAR


@pytest.fixture(autouse=True)
def only_sim(monkeypatch):
    monkeypatch.setenv(LOAD_ENV_VAR, "sim")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(text)
    return path


def test_valid_file_selects_plugins_with_typed_config(tmp_path):
    path = write(
        tmp_path,
        '[runtime]\nshadow = true\n[broker]\nuse = "sim"\n[broker.sim]\ninitial_cash = 5000\n'
        '[feed]\nuse = "synthetic"\n[feed.synthetic]\nassets = 2\n',
    )
    cfg, _ = load_config(path, environ={})
    assert cfg.runtime.shadow is True
    assert cfg.broker == "sim" and cfg.broker_config.initial_cash == 5000
    assert cfg.feed == "synthetic" and cfg.feed_config.assets == 2


@pytest.mark.parametrize(
    ("text", "section", "key"),
    [
        ("[broker.sim]\ninitial_cash = -1\n", "broker.sim", "initial_cash"),
        ("[broker.sim]\ncash = 1\n", "broker.sim", "cash"),
        ("[runtime]\nbusy_policy = 'pile-up'\n", "runtime", "busy_policy"),
        ("[runtime]\nshadw = true\n", "runtime", "shadw"),
        ("[runtime]\nhistory_limit = 0\n", "runtime", "history_limit"),
        ("[runtime]\nhistory_limit = -10\n", "runtime", "history_limit"),
        ("[runtime]\nhistory_limit = 2.5\n", "runtime", "history_limit"),
        ("[runtime]\nhistory_limit = true\n", "runtime", "history_limit"),
        ("[runtime]\nhistory_limit = '1000'\n", "runtime", "history_limit"),
        ("[feed]\nuse = 'nope'\n", "feed", "use"),
        ("[brokr]\nuse = 'sim'\n", "brokr", ""),
        ("[risk.no-such-check]\nmax = 1\n", "risk.no-such-check", ""),
        ("[broker]\nfoo = 1\n", "broker", "foo"),
        ("[plugins]\ndisable = 'sim'\n", "plugins", "disable"),
    ],
)
def test_bad_config_names_file_section_and_key(tmp_path, text, section, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, environ={})
    message = str(excinfo.value)
    assert str(path) in message and f"[{section}]" in message
    if key:
        assert repr(key) in message


def test_malformed_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[runtime\nshadow = ")
    with pytest.raises(ConfigError, match="not valid TOML") as excinfo:
        load_config(path, environ={})
    assert str(path) in str(excinfo.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml", environ={})


def test_environment_overrides_file_values(tmp_path):
    path = write(tmp_path, "[broker.sim]\ninitial_cash = 5000\n")
    env = {
        "ML4T_LIVE__BROKER__SIM__INITIAL_CASH": "7500",
        "ML4T_LIVE__RUNTIME__SHADOW": "true",
        "ML4T_LIVE__RUNTIME__ACCOUNT": "paper-1",
    }
    cfg, _ = load_config(path, environ=env)
    assert cfg.broker_config.initial_cash == 7500
    assert cfg.runtime.shadow is True and cfg.runtime.account == "paper-1"


def test_bad_environment_value_is_reported_like_a_file_value(tmp_path):
    with pytest.raises(ConfigError, match="initial_cash"):
        load_config(None, environ={"ML4T_LIVE__BROKER__SIM__INITIAL_CASH": "lots"})


def test_history_limit_defaults_to_ten_thousand_and_can_be_set_from_the_environment(tmp_path):
    cfg, _ = load_config(write(tmp_path, ""), environ={})
    assert cfg.runtime.history_limit == 10_000
    cfg, _ = load_config(write(tmp_path, "[runtime]\nhistory_limit = 500\n"),
                         environ={"ML4T_LIVE__RUNTIME__HISTORY_LIMIT": "250"})
    assert cfg.runtime.history_limit == 250
