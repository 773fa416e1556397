"""The getting-started path, run as written: the strategy file of the backtest page, then the
shadow page's exact `shadow.toml` through `ml4t-live run`, then the paper and live pages'
exact files against the local Alpaca simulator (only the endpoints and the live page's state
directory come from environment overrides, the documented `ML4T_LIVE__SECTION__KEY` way)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .docs_blocks import Block, blocks

CLI = [sys.executable, "-m", "ml4t_live_core"]


def _page(page: str, lang: str) -> list[Block]:
    return [b for b in blocks(lang) if b.page == f"getting-started/{page}"]


def _env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ML4T_LIVE", "APCA_"))}
    # other runs on this machine may hold the metrics endpoint's default port
    return clean | {"ML4T_LIVE__OBSERVERS__PROMETHEUS__PORT": "0"} | extra


def _journal(directory: Path) -> list[dict]:
    (path,) = directory.rglob("journal*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def strategy_file(tmp_path: Path) -> Path:
    """`strategy.py` exactly as the backtest page shows it."""
    code = _page("backtest.md", "python")[0].code
    assert "class BuyAndHold(Strategy)" in code
    (tmp_path / "strategy.py").write_text(code)
    return tmp_path / "strategy.py"


def test_shadow_page_runs_offline_with_its_exact_config(strategy_file, tmp_path: Path):
    from ml4t_live_sim import SyntheticConfig
    from ml4t_live_sim.feeds import synthetic_bars

    (config,) = _page("shadow.md", "toml")
    (tmp_path / "shadow.toml").write_text(config.code)
    bars = synthetic_bars(SyntheticConfig(assets=2, bars=30, seed=4))
    bars.write_parquet(tmp_path / "bars.parquet")
    result = subprocess.run(
        [*CLI, "run", "strategy.py:BuyAndHold", "--config", "shadow.toml"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    records = _journal(tmp_path / ".ml4t-live" / "buyhold")
    filled = [r for r in records if r["event"] == "filled"]
    assert len(filled) == 1 and filled[0]["asset"] == "A000" and filled[0]["quantity"] == 10
    assert all(r.get("shadow") for r in records if r["event"] in ("submitted", "filled"))
    assert "A000" in result.stdout and "10" in result.stdout  # the final portfolio


def _synthetic(assets: list[str], bars: int):  # type: ignore[no-untyped-def]
    """Minute bars for `assets`, ending now (the Alpaca feed is a live feed)."""
    from datetime import UTC, datetime, timedelta

    import polars as pl
    from ml4t_live_sim import SyntheticConfig
    from ml4t_live_sim.feeds import synthetic_bars

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=bars)
    frame = synthetic_bars(SyntheticConfig(assets=len(assets), bars=bars, seed=9, start=start))
    names = {f"A{i:03d}": asset for i, asset in enumerate(assets)}
    return frame.with_columns(pl.col("asset").replace_strict(names))


def _wait(predicate, what: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:  # type: ignore
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before {what}: {(out + err)[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"timed out waiting for {what}: {(out + err)[-3000:]}")
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("page", "state_dir"), [("paper.md", ".ml4t-live/buyhold-paper"), ("live.md", None)]
)
def test_paper_and_live_pages_trade_through_the_alpaca_simulator(
    strategy_file, tmp_path: Path, page: str, state_dir: str | None
):
    from ml4t_live_testing.alpaca import AlpacaSimulator
    from ml4t_live_testing.alpaca.fixtures import FAKE_KEY_ID, FAKE_SECRET

    (config,) = _page(page, "toml")
    (tmp_path / "run.toml").write_text(config.code)
    assets = ["AAPL", "MSFT"]
    with AlpacaSimulator(api_key=FAKE_KEY_ID, secret_key=FAKE_SECRET) as sim:
        overrides = {
            "ML4T_LIVE__BROKER__ALPACA__BASE_URL": sim.base_url,
            "ML4T_LIVE__BROKER__ALPACA__STREAM_URL": sim.trading_stream_url,
            "ML4T_LIVE__FEED__ALPACA__BASE_URL": sim.base_url,
            "ML4T_LIVE__FEED__ALPACA__STREAM_URL": sim.data_stream_url("iex"),
            "ML4T_LIVE__FEED__ALPACA__BAR_WAIT_SECONDS": "0.5",
        }
        if state_dir is None:  # the live page's /var/lib/... directory, moved into the test's
            state_dir = "state-live"
            overrides["ML4T_LIVE__STATE__JSON__DIRECTORY"] = str(tmp_path / state_dir)
        env = _env(APCA_API_KEY_ID=FAKE_KEY_ID, APCA_API_SECRET_KEY=FAKE_SECRET, **overrides)
        proc = subprocess.Popen(
            [*CLI, "run", "strategy.py:BuyAndHold", "--config", "run.toml"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            subscribed = lambda: set(assets) <= set(sim.data_subscriptions())  # noqa: E731
            _wait(subscribed, "the feed's subscription", proc)
            sim.stream_bars(_synthetic(assets, 3))
            _wait(lambda: sim.positions().get("AAPL") == 10, "10 AAPL at the simulator", proc)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (out + err)[-3000:]
        assert len(sim.orders()) == 1
    records = _journal(tmp_path / state_dir)
    assert [r["event"] for r in records if r.get("asset") == "AAPL"][:1] == ["submitted"]
    assert any(r["event"] == "filled" and r["asset"] == "AAPL" for r in records)
    assert FAKE_SECRET not in out + err and FAKE_KEY_ID not in out + err
