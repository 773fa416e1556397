"""`ml4t-live status`: trading state, positions, today's P&L, last bar and the latest decisions.

Everything comes from the state backend (risk state, journal, equity marks), so it works
whether or not an engine is running; when one is, its metrics endpoint adds live values.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from ml4t_live_core.protocols import StateStore, TradingStateRecord
from ml4t_live_core.reconcile import journal_positions
from ml4t_live_core.state import JournalEvent, JournalRecord, RiskState
from ml4t_live_core.state_commands import config_option, with_store

#: Unlabelled samples read from a running engine's Prometheus endpoint.
_LIVE_SAMPLES = ("ml4t_live_equity", "ml4t_live_last_bar_timestamp_seconds", "ml4t_live_connected",
                 "ml4t_live_bars_total")


@dataclass(frozen=True, slots=True)
class Status:
    """What `status` prints, gathered from one store."""

    where: str
    state: RiskState | None
    trading: TradingStateRecord | None
    shadow: bool
    positions: dict[str, float]
    last_mark: JournalRecord | None
    recent: list[JournalRecord]

    @property
    def trading_state(self) -> str:
        if self.trading is not None:
            trading = self.trading
            return f"{trading.state.value.upper()} since {trading.since}: {trading.reason}"
        if self.state is not None:
            return self.state.trading_state.value.upper()
        return "ACTIVE (no state yet)"

    @property
    def pnl_today(self) -> float | None:
        equity = self.last_mark.detail.get("equity") if self.last_mark else None
        start = self.state.start_of_day_equity if self.state else None
        if not isinstance(equity, int | float) or start is None:
            return None
        return float(equity) - start


async def gather(store: StateStore, recent: int = 10) -> Status:
    """Read state, trading state and journal once, and derive the status from them."""
    state = await store.load_state()
    trading = await store.read_trading_state()
    records = list(await store.read_journal())
    decisions = [r for r in records if r.event is not JournalEvent.MARK]
    marks = [r for r in records if r.event is JournalEvent.MARK]
    shadow = records[-1].shadow if records else False
    return Status(
        where=f"{store.backend} state at {store.location}",
        state=state,
        trading=trading,
        shadow=shadow,
        positions={a: q for a, q in (journal_positions(records, shadow=shadow) or {}).items() if q},
        last_mark=marks[-1] if marks else None,
        recent=decisions[-recent:],
    )


def read_metrics(url: str, timeout: float = 2.0) -> dict[str, float] | None:
    """The unlabelled live samples from a metrics endpoint; None when nothing answers there."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().decode()
    except (urllib.error.URLError, OSError, ValueError):
        return None
    values: dict[str, float] = {}
    for (
        line
    ) in body.splitlines():  # the text exposition format: `name value` for unlabelled samples
        name, _, value = line.partition(" ")
        if name in _LIVE_SAMPLES:
            try:
                values[name] = float(value.split()[0])
            except (ValueError, IndexError):
                continue
    return values


def print_status(status: Status, live: dict[str, float] | None, metrics_url: str | None) -> None:
    from rich.table import Table  # rich.table only when a table is printed

    console = Console()  # made per call: it reads the terminal's width now, not at import
    table = Table(title=status.where, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("trading state", status.trading_state)
    table.add_row("mode", "shadow (virtual portfolio)" if status.shadow else "broker")
    pnl = status.pnl_today
    day = status.state.trading_day if status.state else None
    table.add_row(
        "P&L today",
        "unknown (no equity mark or day start yet)"
        if pnl is None
        else f"{pnl:+,.2f} since the start of {day}",
    )
    last_bar = status.last_mark.timestamp if status.last_mark else None
    if live and "ml4t_live_last_bar_timestamp_seconds" in live:
        last_bar = datetime.fromtimestamp(live["ml4t_live_last_bar_timestamp_seconds"]).astimezone()
    table.add_row("last bar", str(last_bar or "none yet"))
    if metrics_url is not None:
        table.add_row(
            "engine",
            "not answering at " + metrics_url
            if live is None
            else f"running: equity {live.get('ml4t_live_equity', float('nan')):,.2f}, "
            f"{'connected' if live.get('ml4t_live_connected') else 'DISCONNECTED'}, "
            f"{live.get('ml4t_live_bars_total', 0):.0f} bars",
        )
    console.print(table)
    positions = Table(title="positions (from the journal's fills)")
    positions.add_column("asset")
    positions.add_column("quantity", justify="right")
    for asset, quantity in sorted(status.positions.items()):
        positions.add_row(asset, f"{quantity:,g}")
    console.print(positions if status.positions else "positions: none")
    recent = Table(title=f"last {len(status.recent)} journal entries")
    for column in ("time", "event", "client order id", "asset", "side", "qty", "reasons"):
        recent.add_column(column, overflow="fold")
    for r in status.recent:
        qty = r.filled_quantity if r.filled_quantity is not None else r.quantity
        recent.add_row(
            r.timestamp.isoformat(),
            r.event.value,
            r.client_order_id or "",
            r.asset or "",
            r.side or "",
            "" if qty is None else f"{qty:g}",
            "; ".join(r.reasons),
        )
    console.print(recent)


@click.command("status")
@config_option
@click.option(
    "--metrics",
    "metrics_url",
    help="A running engine's metrics URL, e.g. http://127.0.0.1:9464/metrics.",
)
def status_command(config_path: Path | None, metrics_url: str | None) -> None:
    """Trading state, positions, today's P&L, last bar time and the last 10 journal entries."""
    status = with_store(config_path, gather)
    print_status(status, read_metrics(metrics_url) if metrics_url else None, metrics_url)
