"""Config is typed and strict; a password in the URL never shows in location, errors or logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from ml4t_live_state_redis import RedisStateConfig, RedisStateStore, RedisStateUnavailableError
from ml4t_live_state_redis.keys import redact_url
from ml4t_live_testing.redis_server import RedisServer, find_executable, running_redis_server

from ml4t_live_core.compose import load_config
from ml4t_live_core.errors import ConfigError
from ml4t_live_core.plugins import LOAD_ENV_VAR, Kind, load_plugins

PASSWORD = "Sup3r-s3cret/pw"
QUOTED = quote(PASSWORD, safe="")


@pytest.fixture
def locked_server(tmp_path: Path) -> Iterator[RedisServer]:
    if find_executable() is None:
        pytest.skip("redis-server is not installed")
    with running_redis_server(tmp_path / "redis", password=PASSWORD) as server:
        yield server


def test_registered_as_redis_with_its_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOAD_ENV_VAR, "state-redis")
    registration = load_plugins().registry.get(Kind.STATE_STORE, "redis")
    # deferred: redis is imported when the store is built, not when the plugin loads
    assert registration.factory.load() is RedisStateStore
    assert registration.config is RedisStateConfig


def test_defaults() -> None:
    config = RedisStateConfig()
    store = RedisStateStore(config)
    assert config.url.get_secret_value() == "redis://127.0.0.1:6379/0"
    assert store.keys.state == "ml4t-live:default:state"
    assert store.location == "redis://127.0.0.1:6379/0 keys ml4t-live:default:*"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"url": "http://127.0.0.1:6379"}, "url"),
        ({"url": "redis://:pw@127.0.0.1:notaport/0"}, "url"),
        ({"account": "a:b"}, "account"),
        ({"namespace": "x*"}, "namespace"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"connect_timeout": -1}, "connect_timeout"),
        ({"password": "x"}, "password"),
        ({"url": f"redis://:{PASSWORD}@127.0.0.1:6379/0"}, "url"),  # unencoded '/': unparsable
    ],
)
def test_bad_settings_name_the_key(section: dict, key: str, with_sim_broker: None) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(overrides={"state": {"use": "redis", "redis": section}})
    assert caught.value.section == "state.redis" and caught.value.key == key
    assert "pw@" not in str(caught.value) and "s3cret" not in str(caught.value)


def test_url_from_the_environment_is_used_and_hidden(
    monkeypatch: pytest.MonkeyPatch, with_sim_broker: None
) -> None:
    monkeypatch.setenv("ML4T_LIVE__STATE__REDIS__URL", f"redis://:{QUOTED}@10.0.0.5:6380/2")
    config, _ = load_config(overrides={"state": {"use": "redis"}})
    assert config.state_config.url.get_secret_value().endswith("@10.0.0.5:6380/2")
    for text in (
        repr(config.state_config),
        str(config.state_config),
        RedisStateStore(config.state_config).location,
    ):
        assert QUOTED not in text and "s3cret" not in text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"redis://:{QUOTED}@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
        (f"rediss://user:{QUOTED}@host.example:6380/1", "rediss://***@host.example:6380/1"),
        (f"redis://127.0.0.1:6379/0?password={QUOTED}", "redis://127.0.0.1:6379/0"),
        (f"redis://:{PASSWORD}@127.0.0.1:6379/0", "<unparsable redis URL>"),
        ("unix:///run/redis.sock?db=2", "unix:///run/redis.sock"),
    ],
)
def test_redacted_url_has_no_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


async def test_password_protected_server_works_and_password_never_shows(
    locked_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = RedisStateStore(RedisStateConfig.model_validate({"url": locked_server.url}))
    assert QUOTED not in store.location and "s3cret" not in store.location
    await store.open()
    try:
        await store.save_state(
            __import__("ml4t_live_core.state", fromlist=["RiskState"]).RiskState()
        )
        assert await store.load_state() is not None
    finally:
        await store.close()

    wrong = locked_server.url.replace("Sup3r", "Wr0ng")
    bad = RedisStateStore(RedisStateConfig.model_validate({"url": wrong}))
    with pytest.raises(RedisStateUnavailableError) as caught:
        await bad.open()
    assert "Wr0ng" not in str(caught.value) and "s3cret" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    for text in [caplog.text, bad.location]:
        assert "s3cret" not in text and "Wr0ng" not in text
