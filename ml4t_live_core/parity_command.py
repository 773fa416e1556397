"""`ml4t-live parity FILE.py:Class --data prices.parquet`: backtest and live side by side.

Exit 0 when orders, fills and final positions agree within the stated tolerance, 1 when they
do not, 2 when parity could not be run at all."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError
from rich.console import Console

from ml4t_live_core.errors import ConfigError, PluginError
from ml4t_live_core.strategy_target import load_strategy_class, new_strategy

if TYPE_CHECKING:  # parity runs ml4t-backtest (pandas, polars): imported when the command runs
    from ml4t_live_core.parity import ParityReport

console = Console()


class ParityUsageError(click.ClickException):
    """Parity could not be run (bad data, settings or target): exit 2, never 1 (disagreement)."""

    exit_code = 2


@click.command("parity")
@click.argument("target")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Long OHLCV bars: timestamp, asset, open, high, low, close, volume (.parquet or .csv).",
)
@click.option(
    "--fill-timing",
    type=click.Choice(["next_open", "close"]),
    default="next_open",
    show_default=True,
)
@click.option("--initial-cash", type=float, default=100_000.0, show_default=True)
@click.option("--commission-per-share", type=float, default=0.0, show_default=True)
@click.option("--commission-pct", type=float, default=0.0, show_default=True)
@click.option("--slippage-bps", type=float, default=0.0, show_default=True)
@click.option(
    "--price-tolerance",
    type=float,
    default=1e-9,
    show_default=True,
    help="Relative, for prices and fees.",
)
@click.option("--quantity-tolerance", type=float, default=1e-9, show_default=True)
@click.option("--cash-tolerance", type=float, default=1e-6, show_default=True)
def parity(
    target: str,
    data: Path,
    fill_timing: str,
    initial_cash: float,
    commission_per_share: float,
    commission_pct: float,
    slippage_bps: float,
    price_tolerance: float,
    quantity_tolerance: float,
    cash_tolerance: float,
) -> None:
    """Run TARGET (file.py:Class) through ml4t-backtest and through the live stack on the sim
    broker with the same fill timing, commission and slippage; print every difference."""
    from ml4t_live_core.parity import ParityError, Tolerance, run_parity

    for name, value in (
        ("price", price_tolerance),
        ("quantity", quantity_tolerance),
        ("cash", cash_tolerance),
    ):
        if not value >= 0 or value == float("inf"):
            raise click.BadParameter(
                f"must be a finite number >= 0, got {value}", param_hint=f"--{name}-tolerance"
            )
    cls = load_strategy_class(target)
    new_strategy(cls)  # each side gets a fresh instance; fail here, before any work
    settings = {
        "fill_timing": fill_timing,
        "initial_cash": initial_cash,
        "slippage_bps": slippage_bps,
        "commission_per_share": commission_per_share,
        "commission_pct": commission_pct,
    }
    tolerance = Tolerance(price_tolerance, quantity_tolerance, cash_tolerance)
    try:
        report = run_parity(cls, data, broker_settings=settings, tolerance=tolerance)
    except (ParityError, ConfigError, PluginError) as exc:
        raise ParityUsageError(str(exc)) from None
    except ValidationError as exc:
        raise ParityUsageError(f"invalid sim broker setting: {exc}") from None
    print_report(report, console)
    if not report.ok:
        raise SystemExit(1)


def print_report(report: ParityReport, out: Console) -> None:
    """The summary line, then one row per difference, backtest beside live."""
    from rich.table import Table  # rich.table only when a table is printed

    b, lv, tol = report.backtest, report.live, report.tolerance
    out.print(
        f"orders: backtest {len(b.orders)}, live {len(lv.orders)}   "
        f"fills: backtest {len(b.fills)}, live {len(lv.fills)}   "
        f"positions: backtest {len(b.positions)}, live {len(lv.positions)}"
    )
    out.print(  # shows that the cost options reached both sides
        f"fees: backtest {sum(f.commission for f in b.fills):,.4f}, "
        f"live {sum(f.commission for f in lv.fills):,.4f}"
    )
    out.print(
        f"tolerance: price/fees {tol.price_rel:g} relative, "
        f"quantity {tol.quantity:g}, cash {tol.cash:g}"
    )
    if report.ok:
        out.print("[bold green]PARITY[/]: orders, fills and final positions agree")
        if not b.orders:
            out.print(
                "[yellow]note[/]: the strategy placed no orders on this data, "
                "so agreement says little"
            )
        return
    table = Table(title=f"{len(report.differences)} differences")
    for column in ("kind", "which", "backtest", "live"):
        table.add_column(column, overflow="fold")
    for diff in report.differences:
        table.add_row(diff.kind, diff.key, diff.backtest, diff.live)
    out.print(table)
    out.print("[bold red]NO PARITY[/]")
