"""ml4t-live state backend: one SQLite database in WAL mode, shared by processes on one host."""
