"""Run pytest in a child process, as a plugin author would run their own tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_pytest(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest -q <args>` in `cwd`, without this session's ML4T_LIVE_* settings
    (plus `env`), with no cache and no random ordering."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ML4T_LIVE")} | env
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=300
    )
