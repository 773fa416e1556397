"""The JSON backend passes the shared StateStore contract."""

from __future__ import annotations

from typing import Any

from ml4t_live_state_json import JsonStateConfig, JsonStateStore
from ml4t_live_testing.state_contract import StateStoreContract


class TestJsonStateStore(StateStoreContract):
    def make_store(self, location: Any) -> JsonStateStore:
        return JsonStateStore(JsonStateConfig(directory=location))

    def write_raw_state(self, store: Any, raw: bytes) -> None:
        store.state_path.write_bytes(raw)

    def read_raw_state(self, store: Any) -> bytes | None:
        return store.state_path.read_bytes() if store.state_path.exists() else None


class TestJsonStateStoreWithFsyncOnLoop(TestJsonStateStore):
    def make_store(self, location: Any) -> JsonStateStore:
        return JsonStateStore(JsonStateConfig(directory=location), fsync_on_loop=True)
