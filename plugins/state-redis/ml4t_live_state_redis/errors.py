"""The Redis backend's own error: the server cannot be reached in time."""

from __future__ import annotations

from ml4t_live_core.errors import StateUnavailableError


class RedisStateUnavailableError(StateUnavailableError):
    """Redis did not answer (down, unreachable, too slow, refused the login).

    Raised instead of pretending: a journal append that fails this way fails the order (the
    core then rejects it and halts); nothing was acknowledged as written.
    """
