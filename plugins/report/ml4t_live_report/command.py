"""`ml4t-live report`: the session report on demand, from a JSONL journal file or a configured
store."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import click

from ml4t_live_core.config import load_config
from ml4t_live_core.errors import ConfigError, PluginError, StateCorruptError
from ml4t_live_core.plugins import Kind
from ml4t_live_core.state import JournalRecord, StateSchemaError
from ml4t_live_report.session import build_session


def read_journal_file(path: Path) -> list[JournalRecord]:
    """Parse a JSONL journal strictly: a bad line is an error naming the file and line."""
    records = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(JournalRecord.from_dict(json.loads(line)))
            except (ValueError, StateSchemaError) as exc:
                raise click.ClickException(
                    f"{path}:{number}: not a journal record ({exc})"
                ) from None
    return records


async def _read_store(config_path: Path | None, since: datetime | None) -> list[JournalRecord]:
    cfg, plugins = load_config(config_path)
    if cfg.state is None:
        raise click.ClickException(
            "no state backend is configured or installed; pass --journal FILE"
        )
    store = plugins.registry.get(Kind.STATE_STORE, cfg.state).factory(cfg.state_config)
    await store.open()
    try:
        return list(await store.read_journal(since=since))
    finally:
        await store.close()


@click.command("report")
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A JSONL journal file (else the journal of the configured state backend).",
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
    help="Only records from then on.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
)
def report(
    journal_path: Path | None, config_path: Path | None, since: datetime | None, out: Path
) -> None:
    """Write a self-contained HTML session report (and an equity PNG) from the journal."""
    if journal_path is not None:
        records = read_journal_file(journal_path)
        if since is not None:
            records = [r for r in records if r.timestamp >= since]
    else:
        try:
            records = asyncio.run(_read_store(config_path, since))
        except (ConfigError, PluginError, StateCorruptError) as exc:
            raise click.ClickException(str(exc)) from None
    if not records:
        raise click.ClickException("the journal has no records to report on")
    from ml4t_live_report.render import write_report  # matplotlib: only when a report is drawn

    files = write_report(build_session(records), out)
    click.echo(f"report: {files.html}\nequity: {files.equity_png}")
