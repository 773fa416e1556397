"""Backtest/live parity: one strategy over the same bars through `ml4t.backtest.run_backtest` and
through LiveEngine + replay feed + sim broker, and a comparison of orders, fills and positions.

The live side is composed from the plugin registry (broker "sim", feed "replay"), never by
importing a plugin. The broker must say how ml4t-backtest would fill like it: an attribute
`backtest_config` (a `BacktestConfig`) and optionally `backtest_contract_specs`.
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import polars as pl
from ml4t.backtest import Order, Strategy, run_backtest

from ml4t_live_core.clock import MarketClock
from ml4t_live_core.config import RuntimeConfig
from ml4t_live_core.engine import LiveEngine
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import Kind, Plugins, load_plugins
from ml4t_live_core.safety import SafeBroker

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")


class ParityError(ValueError):
    """Parity cannot be run: bad data, or a broker that cannot state its backtest settings."""


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How close is 'the same': prices relative, quantities and cash absolute."""

    price_rel: float = 1e-9
    quantity: float = 1e-9
    cash: float = 1e-6


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order as compared. `quantity` is what was requested and is shown but not compared:
    ml4t-backtest overwrites an order's quantity when it rounds it to whole shares at fill time,
    so only the executed quantity (`filled`) is comparable. `created`: the bar it was placed on.
    """

    created: datetime | None
    asset: str
    side: str
    quantity: float
    filled: float
    order_type: str
    limit_price: float | None
    stop_price: float | None
    status: str


@dataclass(frozen=True, slots=True)
class FillRow:
    timestamp: datetime
    asset: str
    side: str
    quantity: float
    price: float
    commission: float


@dataclass(slots=True)
class RunRecord:
    """What one side did: its orders, fills, and the book as `on_end` saw it."""

    orders: list[OrderRow] = field(default_factory=list)
    fills: list[FillRow] = field(default_factory=list)
    positions: dict[str, float] = field(default_factory=dict)
    cash: float = math.nan


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # "order" | "fill" | "position" | "cash"
    key: str
    backtest: str
    live: str


@dataclass(slots=True)
class ParityReport:
    backtest: RunRecord
    live: RunRecord
    differences: list[Difference]
    tolerance: Tolerance

    @property
    def ok(self) -> bool:
        return not self.differences


# --- data ------------------------------------------------------------------------------------
def load_prices(source: str | Path | pl.DataFrame) -> pl.DataFrame:
    """The long OHLCV frame both sides replay, with UTC timestamps and float prices."""
    if isinstance(source, pl.DataFrame):
        df = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ParityError(f"price data {path} does not exist")
        try:
            df = (
                pl.read_parquet(path)
                if path.suffix == ".parquet"
                else pl.read_csv(path, try_parse_dates=True)
            )
        except Exception as exc:  # polars raises many types for a corrupt file
            raise ParityError(f"price data {path} cannot be read: {exc}") from None
    missing = [c for c in ("timestamp", "asset", *PRICE_COLUMNS) if c not in df.columns]
    if missing:
        raise ParityError(f"price data lacks columns {missing}")
    if df.is_empty():
        raise ParityError("price data has no rows")
    if not isinstance(df.schema["timestamp"], pl.Datetime):
        raise ParityError(
            f"price data: timestamp column is {df.schema['timestamp']}, not a datetime"
        )
    df = df.select(
        "timestamp",
        pl.col("asset").cast(pl.String),
        *(pl.col(c).cast(pl.Float64) for c in PRICE_COLUMNS),
    )
    ts_type = df.schema["timestamp"]
    if isinstance(ts_type, pl.Datetime) and ts_type.time_zone is None:
        df = df.with_columns(pl.col("timestamp").dt.replace_time_zone("UTC"))
    bad = df.filter(
        pl.any_horizontal(~pl.col("open", "high", "low", "close").is_finite())
        | (pl.col("close") <= 0)
    )
    if not bad.is_empty():
        row = bad.row(0, named=True)
        raise ParityError(
            f"price data: non-finite or non-positive price at {row['timestamp']} {row['asset']}"
        )
    return df.sort("timestamp", "asset")


# --- observing a run -------------------------------------------------------------------------
class _Observed(Strategy):
    """Runs the user's strategy unchanged and reads the broker's book when it ends."""

    def __init__(
        self, inner: Strategy, record: RunRecord, before_end: Callable[[], None] | None = None
    ):
        self.inner, self.record, self.before_end = inner, record, before_end

    def on_start(self, broker: Any) -> None:
        self.inner.on_start(broker)

    def on_prepare(self, broker: Any, config: Any = None) -> None:
        self.inner.on_prepare(broker, config)

    def on_data(
        self, timestamp: datetime, data: dict[str, dict], context: dict[str, Any], broker: Any
    ) -> None:
        self.inner.on_data(timestamp, data, context, broker)

    def on_end(self, broker: Any) -> None:
        if self.before_end is not None:
            self.before_end()
        self.record.orders = [_order_row(o) for o in broker.get_orders()]
        self.record.positions = {
            a: p.quantity for a, p in broker.get_positions().items() if p.quantity
        }
        self.record.cash = broker.get_cash()
        self.inner.on_end(broker)


def _order_row(order: Order) -> OrderRow:
    return OrderRow(
        _utc(order.created_at),
        order.asset,
        order.side.value,
        float(order.quantity),
        float(order.filled_quantity or 0.0),
        order.order_type.value,
        order.limit_price,
        order.stop_price,
        order.status.value,
    )


@overload
def _utc(ts: datetime) -> datetime: ...
@overload
def _utc(ts: None) -> None: ...
def _utc(ts: datetime | None) -> datetime | None:
    return ts if ts is None or ts.tzinfo else ts.replace(tzinfo=UTC)


def _fill_row(fill: Any) -> FillRow:
    ts = _utc(fill.timestamp)
    return FillRow(
        ts,
        fill.asset,
        fill.side.value,
        float(fill.quantity),
        float(fill.price),
        float(fill.commission),
    )


# --- the two sides ---------------------------------------------------------------------------
def run_backtest_side(strategy: Strategy, prices: pl.DataFrame, broker: Any) -> RunRecord:
    """`ml4t.backtest.run_backtest` with the broker's own backtest settings."""
    record = RunRecord()
    result = run_backtest(
        prices,
        _Observed(strategy, record),
        config=broker.backtest_config,
        contract_specs=getattr(broker, "backtest_contract_specs", None) or None,
        execution_limits=getattr(broker, "backtest_execution_limits", None),
    )
    record.fills = [_fill_row(f) for f in result.fills]
    return record


async def run_live_side(
    strategy: Strategy, prices_path: Path, broker: Any, plugins: Plugins
) -> RunRecord:
    """LiveEngine + the registered replay feed + `broker`, no risk checks, state in memory."""
    record = RunRecord()
    feed_reg = plugins.registry.get(Kind.FEED, "replay")
    feed = feed_reg.factory(feed_reg.config(path=str(prices_path)) if feed_reg.config else None)
    clock = MarketClock()
    # A parity run compares every order and fill of a finite replay: it keeps them all.
    runtime = RuntimeConfig(strategy_id="parity", timezone="UTC", history_limit=sys.maxsize)
    safe = SafeBroker(
        broker,
        hooks=plugins.hook,
        runtime=runtime,
        clock=clock,
        store=MemoryStateStore(),
        shadow_venue=None,
        prefix="parity",
    )
    loop = asyncio.get_running_loop()
    flush = getattr(broker, "flush", None)

    def finish_bar() -> (
        None
    ):  # same-bar mode fills the last bar's orders before on_end, as the backtest does
        if flush is not None:
            asyncio.run_coroutine_threadsafe(flush(), loop).result(timeout=runtime.order_timeout)

    engine = LiveEngine(
        _Observed(strategy, record, finish_bar), safe, feed, runtime=runtime, clock=clock
    )
    await engine.run(install_signal_handlers=False)
    record.fills = [_fill_row(f) for f in safe.fills]
    return record


def run_parity(
    make_strategy: Callable[[], Strategy],
    data: str | Path | pl.DataFrame,
    *,
    broker_settings: Mapping[str, Any] | None = None,
    tolerance: Tolerance | None = None,
    plugins: Plugins | None = None,
) -> ParityReport:
    """Run a fresh strategy through each side over the same bars and compare what they did."""
    tolerance = tolerance or Tolerance()
    prices = load_prices(data)
    plugins = plugins or load_plugins()
    reg = plugins.registry.get(Kind.BROKER, "sim")

    def make_broker() -> Any:
        broker = reg.factory(reg.config(**dict(broker_settings or {})) if reg.config else None)
        if not hasattr(broker, "backtest_config"):
            raise ParityError(
                f"broker {reg.name!r} ({reg.plugin}) does not expose backtest_config; "
                "parity needs a broker that can say how ml4t-backtest would fill like it"
            )
        return broker

    backtest = run_backtest_side(make_strategy(), prices, make_broker())
    with tempfile.TemporaryDirectory(prefix="ml4t-live-parity-") as tmp:
        path = Path(tmp) / "prices.parquet"
        prices.write_parquet(path)
        live = asyncio.run(run_live_side(make_strategy(), path, make_broker(), plugins))
    return ParityReport(backtest, live, compare(backtest, live, tolerance), tolerance)


# --- comparison ------------------------------------------------------------------------------
def compare(backtest: RunRecord, live: RunRecord, tolerance: Tolerance) -> list[Difference]:
    """Every disagreement between the two records, in order: orders, fills, positions, cash."""
    diffs: list[Difference] = []
    for i in range(max(len(backtest.orders), len(live.orders))):
        b = backtest.orders[i] if i < len(backtest.orders) else None
        lv = live.orders[i] if i < len(live.orders) else None
        if b is None or lv is None or not _same_order(b, lv, tolerance):
            diffs.append(Difference("order", f"#{i + 1}", _show(b), _show(lv)))
    for i in range(max(len(backtest.fills), len(live.fills))):
        bf = backtest.fills[i] if i < len(backtest.fills) else None
        lf = live.fills[i] if i < len(live.fills) else None
        if bf is None or lf is None or not _same_fill(bf, lf, tolerance):
            diffs.append(Difference("fill", f"#{i + 1}", _show(bf), _show(lf)))
    for asset in sorted(set(backtest.positions) | set(live.positions)):
        b_qty, l_qty = backtest.positions.get(asset, 0.0), live.positions.get(asset, 0.0)
        if abs(b_qty - l_qty) > tolerance.quantity:
            diffs.append(Difference("position", asset, f"{b_qty:g}", f"{l_qty:g}"))
    if not (abs(backtest.cash - live.cash) <= tolerance.cash):  # also catches NaN
        diffs.append(Difference("cash", "cash", f"{backtest.cash:,.6f}", f"{live.cash:,.6f}"))
    return diffs


def _close(a: float | None, b: float | None, rel: float) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel)


def _same_order(b: OrderRow, lv: OrderRow, tol: Tolerance) -> bool:
    return (
        (b.created, b.asset, b.side, b.order_type, b.status)
        == (lv.created, lv.asset, lv.side, lv.order_type, lv.status)
        and abs(b.filled - lv.filled) <= tol.quantity
        and _close(b.limit_price, lv.limit_price, tol.price_rel)
        and _close(b.stop_price, lv.stop_price, tol.price_rel)
    )


def _same_fill(b: FillRow, lv: FillRow, tol: Tolerance) -> bool:
    return (
        (b.timestamp, b.asset, b.side) == (lv.timestamp, lv.asset, lv.side)
        and abs(b.quantity - lv.quantity) <= tol.quantity
        and _close(b.price, lv.price, tol.price_rel)
        and _close(b.commission, lv.commission, tol.price_rel)
    )


def _show(row: OrderRow | FillRow | None) -> str:
    if row is None:
        return "-"
    if isinstance(row, FillRow):
        return (
            f"{row.timestamp:%Y-%m-%d %H:%M} {row.side} {row.quantity:g} {row.asset} "
            f"@ {row.price:.6g} (fee {row.commission:.4g})"
        )
    prices = "".join(
        f" {k} {v:.6g}"
        for k, v in (("limit", row.limit_price), ("stop", row.stop_price))
        if v is not None
    )
    when = f"{row.created:%Y-%m-%d %H:%M} " if row.created else ""
    head = f"{when}{row.side} {row.quantity:g} {row.asset} {row.order_type}{prices}"
    return f"{head} -> {row.status} {row.filled:g}"
