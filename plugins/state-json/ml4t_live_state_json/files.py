"""Durable file primitives: atomic replace, fsync'd append, and setting a torn tail aside.

Hand-written on purpose: each is a handful of os calls whose order *is* the durability
guarantee (temp file in the same directory, fsync, os.replace, directory fsync), and no
well-kept library exposes exactly that with a per-record fsync journal.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("ml4t_live.state.json")

FILE_MODE = 0o600
DIR_MODE = 0o700


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a reader (or a crash) sees the old or the new bytes."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_directory(path.parent)


def read_optional(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


@contextmanager
def locked(fd: int) -> Iterator[None]:
    """Exclusive advisory lock: several processes (a runtime, `ml4t-live halt`) may append."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def keep_aside(path: Path, data: bytes, label: str) -> Path:
    """Write `data` to a new side file next to `path` (never overwriting one) and fsync it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    side = path.with_name(f"{path.name}.{label}-{stamp}")
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(path.parent)
    return side


def set_torn_tail_aside(fd: int, path: Path) -> Path | None:
    """If the journal does not end with a newline, a crash cut its last append: the record was
    never acknowledged, so its order never reached a venue. Move those bytes to a side file
    (kept for inspection), truncate the journal to the last full line, and say so loudly.
    Call with the journal lock held."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return None
    start = size
    while start > 0:  # scan back for the last newline, in blocks
        block = max(0, start - 65536)
        chunk = os.pread(fd, start - block, block)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            start = block + cut + 1
            break
        start = block
    torn = os.pread(fd, size - start, start)
    side = keep_aside(path, torn, f"torn-at-{start}")
    os.ftruncate(fd, start)
    os.fsync(fd)
    log.warning(
        "journal %s: torn last record (%d bytes at offset %d, a crash mid-append; never "
        "acknowledged, so never sent) moved to %s",
        path,
        len(torn),
        start,
        side,
    )
    return side
