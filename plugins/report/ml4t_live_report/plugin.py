"""Entry point of ml4t-live-report: the `report` command and a report at the end of every run."""

from __future__ import annotations

from pathlib import Path

from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.state import JournalRecord
from ml4t_live_core.stats import RuntimeStats
from ml4t_live_report.command import report
from ml4t_live_report.session import build_session


@hookimpl
def ml4t_live_register_commands(register):  # type: ignore[no-untyped-def]
    register(report)


@hookimpl
def ml4t_live_on_session_end(
    records: list[JournalRecord], directory: Path, stats: RuntimeStats
) -> list[Path] | None:
    if not records:
        return None
    # matplotlib costs about a second: imported when a report is drawn, not with every command
    from ml4t_live_report.render import write_report

    stamp = records[0].timestamp.strftime("%Y%m%dT%H%M%S")
    files = write_report(build_session(records), directory / f"session-{stamp}.html")
    return [files.html, files.equity_png]
