"""Entry point of ml4t-live-state-json: registers the "json" state backend (the default)."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_state_json.store import JsonStateConfig, JsonStateStore


@hookimpl
def ml4t_live_register_state_stores(register):
    register("json", JsonStateStore, config=JsonStateConfig)
