"""Entry point of ml4t-live-state-sqlite: registers the "sqlite" state backend."""

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_state_sqlite.store import SqliteStateConfig, SqliteStateStore


@hookimpl
def ml4t_live_register_state_stores(register):
    register("sqlite", SqliteStateStore, config=SqliteStateConfig)
