"""TWS API framing: 4-byte big-endian length prefix, NUL-terminated fields, the API handshake."""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable

#: The server version the simulator announces; every encoder speaks ib_async 2.1's decoder at it.
SERVER_VERSION = 178
HANDSHAKE_PREFIX = b"API\0"
#: Refuse absurd frames instead of buffering them (a real gateway caps messages too).
MAX_FRAME = 16 * 1024 * 1024


class ProtocolError(Exception):
    """The peer broke the wire protocol (bad handshake, oversized or truncated frame)."""


def encode_field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return "Infinite" if math.isinf(value) else repr(value)
    return str(value)


def frame(fields: Iterable[object]) -> bytes:
    """One message: each field NUL-terminated, the whole prefixed with its length."""
    body = "".join(encode_field(f) + "\0" for f in fields).encode()
    return struct.pack(">I", len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> list[str]:
    """Read one length-prefixed message and split it into its fields."""
    size = struct.unpack(">I", await reader.readexactly(4))[0]
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte limit")
    body = (await reader.readexactly(size)).decode(errors="backslashreplace")
    fields = body.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


async def read_handshake(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read b"API\\0" + "vMIN..MAX[ options]"; return the client's (min, max) versions."""
    prefix = await reader.readexactly(len(HANDSHAKE_PREFIX))
    if prefix != HANDSHAKE_PREFIX:
        raise ProtocolError(f"expected the API handshake prefix, got {prefix!r}")
    size = struct.unpack(">I", await reader.readexactly(4))[0]
    if size > 1024:
        raise ProtocolError(f"handshake of {size} bytes is too long")
    text = (await reader.readexactly(size)).decode()
    versions = text.split(" ", 1)[0]
    if not versions.startswith("v") or ".." not in versions:
        raise ProtocolError(f"malformed version range {text!r}")
    low, high = versions[1:].split("..", 1)
    return int(low), int(high)
