"""The report from a real run: written at session end, on demand, and drawn by a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from ml4t.backtest import Strategy
from ml4t_live_report.charts import DRAWDOWN_COLOR, EQUITY_COLOR
from ml4t_live_report.render import write_report
from ml4t_live_report.session import build_session
from PIL import Image

from ml4t_live_core.cli import main
from ml4t_live_core.compose import build
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import LOAD_ENV_VAR

# Runs of the engine need the sim plugin's broker and feeds; alone with the core, these skip.
sim = pytest.importorskip("ml4t_live_sim")
ReplayFeed, SyntheticConfig, synthetic_bars = (
    sim.ReplayFeed,
    sim.SyntheticConfig,
    sim.feeds.synthetic_bars,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class InAndOut(Strategy):
    def __init__(self) -> None:
        self.bars = 0

    def on_data(self, timestamp, data, context, broker):  # type: ignore[no-untyped-def]
        self.bars += 1
        if self.bars % 20 == 1:
            broker.submit_order("A000", 100)
        elif self.bars % 20 == 11:
            broker.close_position("A000")
        if self.bars == 5:
            broker.submit_order("A001", 10_000_000)  # refused by the broker: insufficient cash


@pytest.fixture
async def journal(monkeypatch) -> list:
    monkeypatch.setenv(LOAD_ENV_VAR, "sim")
    store = MemoryStateStore()
    runtime = build(
        InAndOut(),
        None,
        store=store,
        overrides={"runtime": {"strategy_id": "report", "mark_every_seconds": 0}},
        feed=ReplayFeed(
            data=synthetic_bars(SyntheticConfig(assets=2, bars=80, seed=5, volatility=0.004))
        ),
    )
    await runtime.engine.run(install_signal_handlers=False)
    return store.journal


def _blue_pixels(png: Path) -> int:
    target = tuple(int(EQUITY_COLOR[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.open(png).convert("RGB")
    return sum(
        1
        for pixel in image.get_flattened_data()
        if all(abs(a - b) < 30 for a, b in zip(pixel, target, strict=True))
    )


def _screenshot(html: Path, out: Path) -> Path:
    assert CHROMIUM is not None
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={out.parent / 'chromium-profile'}",
            f"--screenshot={out}",
            "--window-size=1200,900",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def test_report_has_equity_orders_and_rejections(journal, tmp_path):
    session = build_session(journal)
    assert len(session.marks) >= 80  # a mark per bar plus the closing one
    assert session.rejections_by_check == {"broker": 1}
    files = write_report(session, tmp_path / "report.html")
    html = files.html.read_text()
    assert "<svg" in html and not re.search(
        r"(src|href)\s*=\s*[\"']?(https?:|//)", html
    )  # self-contained
    assert "Insufficient cash" in html and "<td>broker</td>" in html
    equity_chart = html.split("<figure id='equity-chart'>", 1)[1].split("</figure>", 1)[0]
    assert DRAWDOWN_COLOR in equity_chart and "drawdown %" in equity_chart  # the drawdown panel
    positions_chart = html.split("<figure id='positions-chart'>", 1)[1].split("</figure>", 1)[0]
    assert "A000" in positions_chart and "no fills in this journal" not in positions_chart
    orders = html.split("<table id='orders'>", 1)[1].split("</table>", 1)[0]
    ids = {r.client_order_id for r in journal if r.client_order_id}
    assert ids and all(f"<td>{i}</td>" in orders for i in ids)  # every order, one row each
    assert orders.count("<tr class='rejected'>") == 1
    assert (
        files.equity_png.read_bytes().startswith(b"\x89PNG")
        and _blue_pixels(files.equity_png) > 200
    )


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium: apt-get install chromium (.ci/run does)"
)
def test_headless_chromium_draws_the_equity_chart(journal, tmp_path):
    drawn = _screenshot(
        write_report(build_session(journal), tmp_path / "r.html").html, tmp_path / "drawn.png"
    )
    empty = [r for r in journal if r.event.value != "mark"]  # same page without an equity curve
    blank = _screenshot(
        write_report(build_session(empty), tmp_path / "e.html").html, tmp_path / "blank.png"
    )
    assert _blue_pixels(drawn) > 300, "the equity line is not on the rendered page"
    assert _blue_pixels(blank) < 50


def test_report_command_reads_a_jsonl_journal(journal, tmp_path, monkeypatch):
    monkeypatch.delenv(LOAD_ENV_VAR)
    path = tmp_path / "journal.jsonl"
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in journal))
    out = tmp_path / "out" / "session.html"
    result = CliRunner().invoke(main, ["report", "--journal", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and (tmp_path / "out" / "session-equity.png").exists()


def test_report_command_names_the_bad_line(tmp_path, monkeypatch):
    monkeypatch.delenv(LOAD_ENV_VAR, raising=False)
    path = tmp_path / "journal.jsonl"
    path.write_text(
        '{"timestamp": "2024-01-02T14:30:00+00:00", "event": "mark", "detail": {"equity": 1.0}}\n'
        '{"torn'
    )
    result = CliRunner().invoke(main, ["report", "--journal", str(path)])
    assert result.exit_code != 0 and f"{path}:2" in result.output


def test_demo_writes_a_report_and_prints_its_path(monkeypatch):
    monkeypatch.delenv(LOAD_ENV_VAR, raising=False)
    result = CliRunner().invoke(main, ["demo", "--bars", "60", "--assets", "3"])
    assert result.exit_code == 0, result.output
    paths = [
        line.split("report:", 1)[1].strip()
        for line in result.output.splitlines()
        if "report:" in line
    ]
    assert any(p.endswith(".html") and Path(p).exists() for p in paths)
    assert any(p.endswith("-equity.png") and Path(p).exists() for p in paths)
