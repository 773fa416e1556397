"""`ml4t-live state show`, `ml4t-live state reset --confirm` and `ml4t-live journal`: inspect and
reset the persisted state through the `StateStore` protocol, so they work on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ml4t_live_core.config import load_config
from ml4t_live_core.errors import ONE_LINE_ERRORS
from ml4t_live_core.plugins import Kind
from ml4t_live_core.protocols import StateStore
from ml4t_live_core.state import JournalEvent, JournalRecord

console = Console()

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file naming the state backend (default: the installed default).",
)


def with_store[T](config_path: Path | None, action: Callable[[StateStore], Awaitable[T]]) -> T:
    """Open the configured store, run `action`, close it; known errors become one clear line."""
    try:
        cfg, plugins = load_config(config_path)
    except ONE_LINE_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    if cfg.state is None:
        raise click.ClickException(
            "no state backend is configured or installed; nothing is persisted"
        )
    try:  # the store's client library is imported here: a missing one is a PluginError
        store: StateStore = plugins.registry.get(Kind.STATE_STORE, cfg.state).factory(
            cfg.state_config
        )
    except ONE_LINE_ERRORS as exc:
        raise click.ClickException(str(exc)) from None

    async def run() -> T:
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except ONE_LINE_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{store.backend} state at {store.location}: {exc}") from None


@click.group("state")
def state_group() -> None:
    """Inspect or reset the persisted risk state."""


@state_group.command("show")
@config_option
def show(config_path: Path | None) -> None:
    """Print the persisted risk state and trading state (exit 1 if they cannot be trusted)."""
    from rich.table import Table  # rich.table only when a table is printed

    async def read(store: StateStore) -> tuple[Any, Any, int, str]:
        state = await store.load_state()
        trading = await store.read_trading_state()
        journal = await store.read_journal()
        return state, trading, len(journal), f"{store.backend} state at {store.location}"

    state, trading, records, where = with_store(config_path, read)
    table = Table(title=where, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    if state is None:
        table.add_row("risk state", "none yet (a fresh start)")
    else:
        for name, value in state.to_dict().items():
            table.add_row(name, "" if value is None else str(value))
    table.add_row(
        "persisted trading state",
        "none"
        if trading is None
        else f"{trading.state.value} since {trading.since}: {trading.reason}",
    )
    table.add_row("journal records", str(records))
    console.print(table)


@state_group.command("reset")
@click.option("--confirm", is_flag=True, help="Required: you mean to discard the current state.")
@config_option
def reset(confirm: bool, config_path: Path | None) -> None:
    """Start the risk state over (old bytes are kept aside; trading stays HALTED until resumed)."""
    if not confirm:
        raise click.UsageError(
            "reset discards the risk state (kept aside, not deleted); "
            "repeat with --confirm if you mean it"
        )

    async def do_reset(store: StateStore) -> tuple[list[str], str]:
        kept = await store.reset()
        state = await store.load_state()
        assert state is not None
        await store.append_journal(
            JournalRecord(
                datetime.now(UTC),
                JournalEvent.TRADING_STATE,
                reasons=(state.trading_state_reason,),
                detail={
                    "state": state.trading_state.value,
                    "by": "cli",
                    "reset": True,
                    "kept": kept,
                },
            )
        )
        return kept, f"{store.backend} state at {store.location}"

    kept, where = with_store(config_path, do_reset)
    console.print(
        f"{where} was reset. Trading is [bold]HALTED[/] until `ml4t-live resume --confirm`."
    )
    for path in kept:
        console.print(f"  old bytes kept in {path}")


@click.command("journal")
@click.option("--since", help="Only records at or after this ISO time (naive times are UTC).")
@click.option("--asset", help="Only records for this asset.")
@config_option
def journal_command(since: str | None, asset: str | None, config_path: Path | None) -> None:
    """Print the order journal: every decision, with reasons and client order ids."""
    from rich.table import Table  # rich.table only when a table is printed

    since_dt = None
    if since is not None:
        try:
            since_dt = datetime.fromisoformat(since)
        except ValueError:
            raise click.BadParameter(
                f"{since!r} is not an ISO date/time", param_hint="--since"
            ) from None
        if since_dt.tzinfo is None:
            since_dt = since_dt.replace(tzinfo=UTC)
    wanted = asset.strip().upper() if asset else None

    async def read(store: StateStore) -> tuple[Any, str]:
        return await store.read_journal(
            since=since_dt, asset=wanted
        ), f"{store.backend} journal at {store.location}"

    records, where = with_store(config_path, read)
    table = Table(title=f"{where} ({len(records)} records)")
    for column in (
        "time",
        "event",
        "client order id",
        "asset",
        "side",
        "qty",
        "type",
        "price",
        "reasons / detail",
    ):
        table.add_column(column, overflow="fold")
    for r in records:
        price = r.fill_price if r.fill_price is not None else (r.limit_price or r.stop_price)
        qty = r.filled_quantity if r.filled_quantity is not None else r.quantity
        notes = "; ".join(r.reasons) or ", ".join(f"{k}={v}" for k, v in r.detail.items())
        table.add_row(
            r.timestamp.isoformat(),
            r.event.value + (" (shadow)" if r.shadow else ""),
            r.client_order_id or "",
            r.asset or "",
            r.side or "",
            "" if qty is None else f"{qty:g}",
            r.order_type or "",
            "" if price is None else f"{price:g}",
            notes,
        )
    console.print(table)
