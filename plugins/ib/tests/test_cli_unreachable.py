"""`ml4t-live run` against an IB gateway that is not there: one clear line, exit 1."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from ml4t_live_core.cli import main

STRATEGY = '''
from ml4t.backtest import Strategy

class Idle(Strategy):
    def on_data(self, timestamp, data, context, broker):
        pass
'''


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens


def test_run_with_no_gateway_listening_fails_with_one_clear_line(
    tmp_path: Path, load_only: Callable[..., None]
) -> None:
    load_only("ib")
    port = _closed_port()
    (tmp_path / "idle.py").write_text(STRATEGY)
    config = tmp_path / "live.toml"
    config.write_text(
        f'[broker]\nuse = "ib"\n[broker.ib]\nport = {port}\nconnect_timeout = 1\n'
        '[feed]\nuse = "ib"\n[feed.ib]\nassets = ["AAPL"]\n'
    )
    result = CliRunner().invoke(
        main, ["run", f"{tmp_path / 'idle.py'}:Idle", "--config", str(config)]
    )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"cannot reach IB at 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output
