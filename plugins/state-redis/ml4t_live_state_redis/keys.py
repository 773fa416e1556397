"""Key layout of one account's state in Redis, and the credential-free form of the URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Every key (and the pub/sub channel) of one `<namespace>:<account>`."""

    prefix: str

    @property
    def state(self) -> str:
        return f"{self.prefix}:state"

    @property
    def journal(self) -> str:
        """A stream: one entry per journal record."""
        return f"{self.prefix}:journal"

    @property
    def max_seq(self) -> str:
        """The highest client-order sequence in the journal, kept by the append script."""
        return f"{self.prefix}:journal:max_seq"

    @property
    def trading_state(self) -> str:
        return f"{self.prefix}:trading_state"

    @property
    def channel(self) -> str:
        """Trading-state changes are published here as well as stored in `trading_state`."""
        return f"{self.prefix}:trading_state"

    def aside(self, key: str, stamp: str) -> str:
        """Where a reset keeps a replaced key (never deleted)."""
        return f"{self.prefix}:aside:{stamp}:{key.removeprefix(self.prefix + ':')}"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}:*"


def redact_url(url: str) -> str:
    """The URL without user, password or query (which may carry a password)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # the library's message would quote part of the netloc, i.e. the password
        return "<unparsable redis URL>"
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = ("***@" if parts.username or parts.password else "") + host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced, for messages built from a client library's error."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
