"""A deliberately broken backend for the crash harness's own test: it rewrites the state file
in place (truncate, then write in two halves), which a SIGKILL can catch half-done."""

from __future__ import annotations

import os
import time

from ml4t_live_state_json import JsonStateConfig, JsonStateStore

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.state import RiskState, encode_state


class InPlaceJsonStore(JsonStateStore):
    backend = "json-in-place"

    async def save_state(self, state: RiskState) -> None:
        data = encode_state(state)
        with open(self.state_path, "wb") as fh:  # NOT atomic: the bug the harness must catch
            fh.write(data[: len(data) // 2])
            fh.flush()
            time.sleep(0.002)  # widen the window a kill can land in (child process only)
            fh.write(data[len(data) // 2 :])
            os.fsync(fh.fileno())


@hookimpl
def ml4t_live_register_state_stores(register):  # type: ignore[no-untyped-def]
    register("json-in-place", InPlaceJsonStore, config=JsonStateConfig)
