"""Typed settings of the Redis state backend (section [state.redis])."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from ml4t_live_core.config import PluginConfig

#: Namespace and account become key parts: no ':' (the separator), no spaces or wildcards.
KEY_PART = r"^[A-Za-z0-9_.\-]{1,64}$"
SCHEMES = ("redis", "rediss", "unix")


class RedisStateConfig(PluginConfig):
    """Where the state lives: keys `<namespace>:<account>:*` on the server at `url`.

    The URL may carry a password (`redis://:secret@host:6379/0`, or set it through
    `ML4T_LIVE__STATE__REDIS__URL`); it is kept secret and never shown.
    """

    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    namespace: str = Field(default="ml4t-live", pattern=KEY_PART)
    account: str = Field(default="default", pattern=KEY_PART)
    #: Seconds to open a connection.
    connect_timeout: float = Field(default=2.0, gt=0, le=60)
    #: Seconds any one command may take; a slower answer fails the write (never retried blindly).
    timeout: float = Field(default=2.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: SecretStr) -> SecretStr:
        # The message never echoes the URL: it may hold a password.
        try:
            parts = urlsplit(url.get_secret_value())
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ValueError(
                "is not a valid URL (the value is not shown: it may hold a password)"
            ) from None
        if parts.scheme not in SCHEMES:
            raise ValueError(f"must start with one of {', '.join(s + '://' for s in SCHEMES)}")
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("names no host")
        return url
