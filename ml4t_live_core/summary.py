"""Terminal output for a run: a progress bar while bars flow, then orders, rejections,
the final portfolio and the engine's counters."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ml4t.backtest import OrderStatus
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ml4t_live_core.stats import RuntimeStats

if TYPE_CHECKING:
    from ml4t_live_core.compose import Runtime

MAX_ORDER_ROWS = 25


def progress_callback(
    console: Console, total: int | None
) -> tuple[Callable[[datetime, RuntimeStats], None], AbstractContextManager[Any]]:
    """A per-bar callback that advances a rich progress bar (a no-op when not a terminal)."""
    if not console.is_terminal:
        return (lambda _ts, _stats: None), nullcontext()
    progress = Progress(
        TextColumn("[bold]bars"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("bars", total=total, info="")

    def advance(timestamp: datetime, stats: RuntimeStats) -> None:
        progress.update(
            task,
            advance=1,
            info=(
                f"{timestamp:%H:%M} orders {stats.orders_submitted} "
                f"rejected {stats.orders_rejected}"
            ),
        )

    return advance, progress


def print_summary(console: Console, runtime: Runtime) -> None:
    safe = runtime.safe
    stats = runtime.engine.stats
    orders = list(safe._orders.values())
    shown = min(len(orders), MAX_ORDER_ROWS)
    table = Table(title=f"Orders ({stats.orders_submitted} sent; showing the last {shown})")
    for column in (
        "client order id",
        "time",
        "side",
        "qty",
        "asset",
        "type",
        "status",
        "fill price",
    ):
        table.add_column(column, overflow="fold")
    for order in orders[-MAX_ORDER_ROWS:]:
        status = order.status.value + (
            " (partial)" if order.status is OrderStatus.PENDING and order.filled_quantity else ""
        )
        table.add_row(
            order.order_id,
            f"{order.created_at:%Y-%m-%d %H:%M}" if order.created_at else "",
            order.side.name,
            f"{order.quantity:g}",
            order.asset,
            order.order_type.value,
            status,
            f"{order.filled_price:,.2f}" if order.filled_price else "",
        )
    console.print(table)
    if safe.rejected:
        rejected = Table(
            title=f"Rejected orders ({stats.orders_rejected}; showing the last "
            f"{min(len(safe.rejected), MAX_ORDER_ROWS)})"
        )
        for column in ("client order id", "side", "qty", "asset", "reasons"):
            rejected.add_column(column)
        for order in list(safe.rejected)[-MAX_ORDER_ROWS:]:
            rejected.add_row(
                order.order_id,
                order.side.name,
                f"{order.quantity:g}",
                order.asset,
                order.rejection_reason or "",
            )
        console.print(rejected)
    portfolio = Table(title="Final portfolio" + (" (shadow)" if safe.shadow else ""))
    for column in (
        "asset",
        "quantity",
        "entry price",
        "last price",
        "market value",
        "unrealized P&L",
    ):
        portfolio.add_column(column, justify="right")
    for asset, h in sorted(safe.ledger.holdings.items()):
        price = safe.prices.get(asset, h.entry_price)
        portfolio.add_row(
            asset,
            f"{h.quantity:g}",
            f"{h.entry_price:,.2f}",
            f"{price:,.2f}",
            f"{h.quantity * price * h.multiplier:,.2f}",
            f"{(price - h.entry_price) * h.quantity * h.multiplier:+,.2f}",
        )
    console.print(portfolio)
    console.print(
        f"cash {safe.ledger.cash:,.2f}  equity {safe.equity():,.2f}  trading state "
        f"{safe.trading_state.value.upper()}\n"
        f"bars {stats.bars} (skipped {stats.bars_skipped})  orders {stats.orders_submitted}  "
        f"rejected {stats.orders_rejected} {dict(stats.rejections_by_check) or ''}  "
        f"fills {stats.fills}  "
        f"strategy errors {stats.errors}"
    )
    if runtime.store is not None:
        console.print(f"state and journal: {runtime.store.backend} at {runtime.store.location}")
