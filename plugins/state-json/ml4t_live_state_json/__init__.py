"""ml4t-live state backend: atomic JSON state file + fsync'd JSONL journal (the default)."""

from ml4t_live_state_json.store import JsonStateConfig, JsonStateStore

__all__ = ["JsonStateConfig", "JsonStateStore"]
