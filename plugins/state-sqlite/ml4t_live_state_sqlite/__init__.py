"""ml4t-live state backend: one SQLite database in WAL mode, shared by processes on one host."""

from ml4t_live_state_sqlite.store import (
    SqliteStateConfig,
    SqliteStateStore,
    SqliteStateUnavailableError,
)

__all__ = ["SqliteStateConfig", "SqliteStateStore", "SqliteStateUnavailableError"]
