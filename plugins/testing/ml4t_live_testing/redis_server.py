"""A real, throw-away `redis-server` on a free loopback port, and the pytest fixtures for it.

The server runs in a temp dir with persistence off, so tests never touch the user's Redis or
files. When `redis-server` is not installed, tests that need it are skipped (never faked).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

__all__ = [
    "RedisServer", "RedisServerUnavailable", "fresh_redis", "redis_server", "running_redis_server",
]

#: Overrides where the executable is looked up (e.g. a redis-server built from source).
EXECUTABLE_ENV_VAR = "ML4T_LIVE_REDIS_SERVER"
INSTALL_HINT = (
    "redis-server is not installed: install it with `sudo apt-get install redis-server` "
    "(Debian/Ubuntu) or `brew install redis` (macOS), or point "
    f"{EXECUTABLE_ENV_VAR} at the executable"
)
_READY_LINE = b"Ready to accept connections"


class RedisServerUnavailable(RuntimeError):
    """redis-server is missing or did not come up."""


@dataclass(slots=True)
class RedisServer:
    """A running server: connect to `url` (loopback only)."""

    port: int
    directory: Path
    password: str | None = None
    process: subprocess.Popen[bytes] | None = None
    output: list[bytes] = field(default_factory=list)
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def command(self, *args: str) -> bytes:
        """Send one command over a raw socket and return the raw reply (setup and teardown)."""
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            prelude = _encode("AUTH", self.password) if self.password else b""
            sock.sendall(prelude + _encode(*args))
            replies = 2 if self.password else 1
            return _read_replies(sock, replies)[-1]

    def kill(self) -> None:
        """SIGKILL the server and reap it: what a test of a lost connection needs."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def flush(self) -> None:
        reply = self.command("FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise RedisServerUnavailable(f"FLUSHALL failed: {reply!r}")


def find_executable() -> str | None:
    """$ML4T_LIVE_REDIS_SERVER if set (it must exist), else redis-server on PATH."""
    override = os.environ.get(EXECUTABLE_ENV_VAR)
    if override:
        return override if os.access(override, os.X_OK) else None
    return shutil.which("redis-server")


@contextlib.contextmanager
def running_redis_server(
    directory: Path, *, password: str | None = None, startup_timeout: float = 10.0
) -> Iterator[RedisServer]:
    """Start redis-server in `directory`, wait until it answers PING, stop it on exit."""
    executable = find_executable()
    if executable is None:
        raise RedisServerUnavailable(INSTALL_HINT)
    directory.mkdir(parents=True, exist_ok=True)
    server = RedisServer(port=_free_port(), directory=directory, password=password)
    args = [
        executable, "--port", str(server.port), "--bind", server.host, "--dir", str(directory),
        # No RDB/AOF: nothing is written outside the temp dir, nothing outlives the test.
        "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
        "--protected-mode", "yes", "--databases", "4",
    ]
    if password:
        args += ["--requirepass", password]
    server.process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=directory
    )
    try:
        _wait_until_ready(server, startup_timeout)
        # Keep draining the log so a full pipe can never stall the server.
        threading.Thread(
            target=_drain, args=(server,), daemon=True, name="redis-server-log"
        ).start()
        yield server
    finally:
        _stop(server.process)


def _wait_until_ready(server: RedisServer, timeout: float) -> None:
    """Read the server log until it says it is ready (no polling sleep), then PING it."""
    assert server.process is not None and server.process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(server.process.stdout, selectors.EVENT_READ)
        while _READY_LINE not in seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise RedisServerUnavailable(
                    f"redis-server did not start within {timeout}s: {seen[-2000:]!r}"
                )
            chunk = os.read(server.process.stdout.fileno(), 65536)
            if not chunk:
                raise RedisServerUnavailable(
                    f"redis-server exited with {server.process.wait()}: {seen[-2000:]!r}"
                )
            seen += chunk
    server.output.append(seen)
    reply = server.command("PING")
    if not reply.startswith(b"+PONG"):
        raise RedisServerUnavailable(f"redis-server did not answer PING: {reply!r}")


def _drain(server: RedisServer) -> None:
    assert server.process is not None and server.process.stdout is not None
    for line in server.process.stdout:
        server.output.append(line)


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _encode(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read_replies(sock: socket.socket, count: int) -> list[bytes]:
    """Simple-string / error / integer replies only: all the setup commands need."""
    buffer = b""
    while buffer.count(b"\r\n") < count:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buffer += chunk
    return buffer.split(b"\r\n")[:count]


# --- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session; skipped with install instructions if missing."""
    if find_executable() is None:
        pytest.skip(INSTALL_HINT)
    with running_redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def fresh_redis(redis_server: RedisServer) -> RedisServer:
    """The session's redis-server, emptied before the test."""
    redis_server.flush()
    return redis_server
