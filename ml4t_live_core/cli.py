"""The `ml4t-live` command: demo, run, plugins, and the manual trading-state controls."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from ml4t_live_core import logs
from ml4t_live_core.config import LoggingConfig, load_config
from ml4t_live_core.errors import ONE_LINE_ERRORS, PluginError
from ml4t_live_core.plugins import LOAD_ENV_VAR, Kind, load_plugins
from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.risk import TradingState
from ml4t_live_core.state import JournalEvent, JournalRecord

# ml4t.backtest (pandas, polars) costs seconds to import: only the commands that run a strategy
# (demo, run, parity) import compose and the engine, so halt, resume, state and --help stay quick.
if TYPE_CHECKING:
    from ml4t_live_core.compose import Runtime
    from ml4t_live_core.protocols import StateStore

console = Console()
log = logging.getLogger("ml4t_live.cli")


class PluginCommandGroup(click.Group):
    """The `ml4t-live` group: core commands, plus those plugins add with
    `ml4t_live_register_commands`, loaded only when one is asked for (or for --help)."""

    #: Commands found per value of ML4T_LIVE_LOAD_PLUGINS (which plugins load can change in tests).
    _plugin_commands: dict[str | None, dict[str, click.Command]] = {}

    def _from_plugins(self) -> dict[str, click.Command]:
        key = os.environ.get(LOAD_ENV_VAR)
        if key not in self._plugin_commands:
            found: dict[str, click.Command] = {}
            plugins = load_plugins()
            for impl in plugins.pm.hook.ml4t_live_register_commands.get_hookimpls():
                impl.function(
                    register=lambda command, _plugin=impl.plugin_name: _add(found, command, _plugin)
                )
            self._plugin_commands[key] = found
        return self._plugin_commands[key]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._from_plugins().get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._from_plugins()})


def _add(found: dict[str, click.Command], command: click.Command, plugin: str) -> None:
    if command.name in found or command.name in main.commands:
        raise PluginError(
            f"plugin {plugin!r} registers command {command.name!r}, which already exists"
        )
    found[command.name or "?"] = command


@click.group(cls=PluginCommandGroup)
@click.version_option(importlib.metadata.version("ml4t-live"), prog_name="ml4t-live")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Default level (else [logging] level in the config, else WARNING).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    help="text for people, json for one event per line (else [logging] format).",
)
@click.pass_context
def main(ctx: click.Context, log_level: str | None, log_format: str | None) -> None:
    """Run ml4t-backtest strategies live, unchanged, behind layered safety."""
    ctx.obj = {"log_level": log_level.upper() if log_level else None, "log_format": log_format}
    _configure_logging(LoggingConfig())


def _configure_logging(from_file: LoggingConfig) -> None:
    """Apply the config file's [logging] section, with the command-line flags on top."""
    flags = click.get_current_context().find_root().obj or {}
    pairs = (("level", flags.get("log_level")), ("format", flags.get("log_format")))
    overrides = {k: v for k, v in pairs if v}
    logs.configure(from_file.model_copy(update=overrides))


@main.command()
@click.option(
    "--broker",
    "venue_name",
    default="sim",
    show_default=True,
    metavar="NAME",
    help="sim: the embedded paper broker. Other names are simulated venues that "
    "plugins register (ml4t-live-testing: alpaca-sim, ib-sim): the real broker "
    "plugin against a local simulator. An unknown name lists the installed ones.",
)
@click.option("--assets", default=6, show_default=True, type=click.IntRange(1, 2000))
@click.option(
    "--bars",
    type=click.IntRange(1, 100_000),
    help="Bars to run  [default: 390 on sim, 60 on a simulated venue]",
)
@click.option("--shadow", is_flag=True, help="Shadow mode: orders go to a virtual portfolio.")
def demo(venue_name: str, assets: int, bars: int | None, shadow: bool) -> None:
    """Run the demo strategy through the whole stack: no account, no network."""
    from ml4t_live_core.compose import build
    from ml4t_live_core.demo import MomentumRotation, demo_overrides
    from ml4t_live_core.demo_venue import BUILT_IN, DemoSpec, venue_names

    plugins = _guarded(load_plugins)
    if venue_name not in venue_names(plugins.registry):
        raise click.BadParameter(
            f"unknown venue {venue_name!r}; installed: {', '.join(venue_names(plugins.registry))}. "
            "Simulated venues come from plugins (e.g. ml4t-live-testing)",
            param_hint="--broker",
        )
    bars = bars or (390 if venue_name == BUILT_IN else 60)
    overrides = demo_overrides(
        assets,
        bars,
        shadow,
        installed_checks=set(plugins.registry.names(Kind.RISK_CHECK)),
        installed_stores=set(plugins.registry.names(Kind.STATE_STORE)),
        installed_observers=set(plugins.registry.names(Kind.OBSERVER)),
        accelerated=venue_name != BUILT_IN,
    )
    report_dir = Path(
        overrides.get("state", {}).get("json", {}).get("directory")
        or tempfile.mkdtemp(prefix="ml4t-live-demo-")
    )
    checks = ", ".join(plugins.registry.names(Kind.RISK_CHECK)) or "none installed"
    if venue_name == BUILT_IN:
        runtime = _guarded(lambda: build(MomentumRotation(), None, overrides=overrides))
        console.print(
            f"[bold]ml4t-live demo[/]: {assets} assets x {bars} one-minute bars, "
            f"{'shadow' if shadow else 'sim'} broker, checks: {checks}"
        )
        _execute(runtime, total_bars=bars, report_dir=report_dir)
        return
    venue = plugins.registry.get(Kind.DEMO_VENUE, venue_name).factory(DemoSpec(assets, bars))
    _demo_on_venue(venue, venue_name, plugins, overrides, report_dir, shadow=shadow, checks=checks)


def _demo_on_venue(
    venue: Any,
    venue_name: str,
    plugins: Any,
    overrides: dict[str, Any],
    report_dir: Path,
    *,
    shadow: bool,
    checks: str,
) -> None:
    """The demo against a plugin's simulated venue: its simulator, the real broker plugin."""
    from ml4t_live_core.compose import build
    from ml4t_live_core.demo import MomentumRotation
    from ml4t_live_core.demo_venue import missing_requirements

    missing = missing_requirements(venue, plugins.registry)
    if missing:
        needs = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
        raise click.ClickException(
            f"--broker {venue_name} needs the {needs} plugin(s), "
            f"which are not installed: {venue.install_hint}"
        )
    bars = venue.spec.bars
    try:
        try:
            overrides = {**overrides, **venue.start()}
        except OSError as exc:
            message = f"{venue_name}: its simulator did not start: {exc}"
            raise click.ClickException(message) from None
        period = max(5, min(30, bars // 6))  # short runs still rebalance a few times
        strategy = MomentumRotation(lookback=period, every=period)
        runtime = _guarded(lambda: build(strategy, None, overrides=overrides))
        cfg = runtime.config
        console.print(
            f"[bold]ml4t-live demo[/]: {venue.spec.assets} assets x {bars} bars on "
            f"[bold]{venue_name}[/] (broker plugin {cfg.broker!r}, feed plugin "
            f"{cfg.feed!r}, {'shadow' if shadow else 'orders to the simulator'}), "
            f"checks: {checks}"
        )
        _execute(runtime, total_bars=bars, report_dir=report_dir, venue=venue)
        _print_venue_account(venue_name, venue, runtime)
    finally:
        venue.stop()


def _print_venue_account(venue_name: str, venue: Any, runtime: Runtime) -> None:
    """The simulator's own book beside the runtime's: the orders really went there."""
    account = venue.account()
    held = ", ".join(f"{a} {q:g}" for a, q in sorted(account.positions.items())) or "none"
    console.print(
        f"{venue_name} account (the simulator's own book): cash {account.cash:,.2f}; "
        f"positions: {held}"
    )
    if runtime.safe.shadow:
        console.print(f"shadow mode: the orders went to the virtual portfolio, not to {venue_name}")
        return
    ledger = runtime.safe.ledger
    ours = {a: h.quantity for a, h in ledger.holdings.items() if h.quantity}
    if ours == account.positions and abs(ledger.cash - account.cash) < 0.005:
        console.print(
            f"positions and cash match: the runtime and {venue_name} agree on "
            f"{len(ours)} position(s)"
        )
    else:
        raise click.ClickException(
            f"the runtime and {venue_name} DIFFER: positions {ours} vs {account.positions}, "
            f"cash {ledger.cash:,.2f} vs {account.cash:,.2f}"
        )


@main.command()
@click.argument("target")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), required=True
)
@click.option("--shadow", is_flag=True, help="Force shadow mode whatever the config says.")
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".ml4t-live/reports"),
    show_default=True,
    help="Where session reports are written when the run ends.",
)
def run(target: str, config_path: Path, shadow: bool, report_dir: Path) -> None:
    """Run TARGET (path/to/file.py:StrategyClass) with the given config file."""
    from ml4t_live_core.compose import build
    from ml4t_live_core.strategy_target import load_strategy_class, new_strategy

    strategy = new_strategy(load_strategy_class(target))
    overrides = {"runtime": {"shadow": True}} if shadow else None
    runtime = _guarded(lambda: build(strategy, config_path, overrides=overrides))
    _configure_logging(runtime.config.logging)
    _execute(runtime, report_dir=report_dir)


@main.command("plugins")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(config_path: Path | None, as_json: bool) -> None:
    """List every discovered plugin: distribution, version, entry point, hooks, components."""
    from rich.table import Table

    if config_path is not None:
        _, plugins = _guarded(lambda: load_config(config_path))
    else:
        plugins = _guarded(load_plugins)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(info) for info in plugins.infos], indent=2))
        return
    table = Table(title="ml4t-live plugins (entry-point group ml4t_live)")
    for column in ("name", "distribution", "version", "entry point", "provides", "hooks"):
        table.add_column(column, overflow="fold")
    for info in plugins.infos:
        status = "[red]DISABLED[/]" if info.disabled else ", ".join(info.registrations)
        table.add_row(
            info.name,
            info.distribution,
            info.version,
            info.entry_point,
            status,
            "\n".join(h.removeprefix("ml4t_live_") for h in info.hooks),
        )
    console.print(table)


def _set_state(config_path: Path | None, state: TradingState, reason: str) -> None:
    from ml4t_live_core.state_commands import with_store

    async def write(store: StateStore) -> str:
        now = datetime.now(UTC)
        risk_state = await store.load_state()
        if risk_state is not None:
            risk_state.trading_state, risk_state.trading_state_reason = state, reason
            risk_state.trading_state_since = now
            await store.save_state(risk_state)
        await store.write_trading_state(TradingStateRecord(state, reason, now))
        detail = {"state": state.value, "by": "cli"}
        await store.append_journal(
            JournalRecord(now, JournalEvent.TRADING_STATE, reasons=(reason,), detail=detail)
        )
        return f"{store.backend} state at {store.location}"

    where = with_store(config_path, write)
    console.print(
        f"trading state is now [bold]{state.value.upper()}[/] in {where}: {reason}. "
        "A running engine picks it up within one bar."
    )


@main.command()
@click.option("--reason", required=True, help="Why trading stops (recorded in state and journal).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path))
def halt(reason: str, config_path: Path | None) -> None:
    """Stop all trading until someone resumes on purpose."""
    _set_state(config_path, TradingState.HALTED, f"manual halt: {reason}")


@main.command()
@click.option("--reason", default="manual", show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path))
def reduce(reason: str, config_path: Path | None) -> None:
    """Only allow orders that shrink positions."""
    _set_state(config_path, TradingState.REDUCING, f"manual reduce: {reason}")


@main.command()
@click.option("--confirm", is_flag=True, help="Required: you mean to resume trading.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path))
def resume(confirm: bool, config_path: Path | None) -> None:
    """Return to ACTIVE trading (refuses without --confirm)."""
    if not confirm:
        raise click.UsageError("resume re-enables trading; repeat with --confirm if you mean it")
    _set_state(config_path, TradingState.ACTIVE, "manual resume")


# --- helpers -------------------------------------------------------------------------------
def _guarded(fn: Any) -> Any:
    """Turn the runtime's specific errors into one clear line and a non-zero exit."""
    try:
        return fn()
    except ONE_LINE_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


def _execute(
    runtime: Runtime,
    total_bars: int | None = None,
    report_dir: Path | None = None,
    venue: Any = None,
) -> None:
    from ml4t_live_core.demo_venue import DemoVenueError, drive
    from ml4t_live_core.summary import print_summary, progress_callback

    callback, progress = progress_callback(console, total_bars)
    runtime.engine._on_bar_done = callback
    already_journaled = (
        len(_guarded(lambda: asyncio.run(_read_journal(runtime)))) if runtime.store else 0
    )
    try:
        with progress:
            run = (lambda: drive(runtime, venue)) if venue is not None else runtime.engine.run
            stats = _guarded(lambda: asyncio.run(run()))
    except Exception as exc:
        from ml4t_live_core.engine import StrategyError

        if isinstance(exc, StrategyError | DemoVenueError):
            print_summary(console, runtime)
            _session_end(runtime, report_dir, already_journaled)
            raise click.ClickException(str(exc)) from None
        raise
    print_summary(console, runtime)
    if stats.stop_reason:
        console.print(f"stopped: {stats.stop_reason}")
    _session_end(runtime, report_dir, already_journaled)


async def _read_journal(runtime: Runtime) -> list[JournalRecord]:
    assert runtime.store is not None
    await runtime.store.open()
    try:
        return list(await runtime.store.read_journal())
    finally:
        await runtime.store.close()


def _session_end(runtime: Runtime, report_dir: Path | None, already_journaled: int) -> None:
    """Hand this session's journal to the plugins that write artifacts; print their paths."""
    if report_dir is None or runtime.store is None:
        return
    records = _guarded(lambda: asyncio.run(_read_journal(runtime)))[already_journaled:]
    results = runtime.plugins.hook.ml4t_live_on_session_end(
        records=records, directory=report_dir, stats=runtime.engine.stats
    )
    for path in (p for paths in results if paths for p in paths):
        console.print(f"report: [bold]{path}[/]")


from ml4t_live_core.parity_command import parity as _parity  # noqa: E402  (a command in its own module)

main.add_command(_parity)

from ml4t_live_core.state_commands import journal_command, state_group  # noqa: E402

main.add_command(state_group)
main.add_command(journal_command)

from ml4t_live_core.status import status_command  # noqa: E402

main.add_command(status_command)

from ml4t_live_core.scaffold import new_plugin_command  # noqa: E402

main.add_command(new_plugin_command)
