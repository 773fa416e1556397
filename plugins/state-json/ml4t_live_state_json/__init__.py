"""ml4t-live state backend: atomic JSON state file + fsync'd JSONL journal (the default)."""
