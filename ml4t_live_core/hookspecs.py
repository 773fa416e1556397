"""Every hook a plugin may implement. These docstrings are the plugin author's reference.

Registration hooks are called once at start-up, on the main thread, with a `register`
callback owned by the core. Runtime hooks are called on the event loop: they must be fast,
must not block (no network, no sleep) and must not mutate the objects they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from ml4t_live_core.protocols import AccountSnapshot
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext
from ml4t_live_core.state import JournalRecord
from ml4t_live_core.stats import RuntimeStats

if TYPE_CHECKING:
    from ml4t.backtest import Fill

PROJECT = "ml4t_live"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


@hookspec
def ml4t_live_register_brokers(register: Register) -> None:
    """Register broker adapters: `register("ib", IBBroker, config=IBConfig)`.

    The factory is called as `factory(config)` with the validated config model (or None
    when no schema is given) and must return a `BrokerAdapter`.
    """


@hookspec
def ml4t_live_register_feeds(register: Register) -> None:
    """Register data feeds: `register("replay", ReplayFeed, config=ReplayConfig)`.

    The factory is called as `factory(config)` and returns a `DataFeed`.
    """


@hookspec
def ml4t_live_register_feed_wrappers(register: Register) -> None:
    """Register feed wrappers: `register("aggregate", Aggregator, config=AggregatorConfig)`.

    The factory is called as `factory(config, inner_feed, clock=clock)` (the runtime's
    injectable `Clock`) and returns a `DataFeed`.
    """


@hookspec
def ml4t_live_register_state_stores(register: Register) -> None:
    """Register state backends: `register("json", JsonStateStore, config=JsonStateConfig)`.

    The factory is called as `factory(config)` and returns a `StateStore`.
    """


@hookspec
def ml4t_live_register_risk_checks(register: Register) -> None:
    """Register risk checks: `register("order-size", OrderSizeCheck, config=OrderSizeConfig)`.

    The factory is called as `factory(config)`; the object it returns is registered with the
    plugin manager, so its `ml4t_live_check_order` and observation hookimpls are called.
    """


@hookspec
def ml4t_live_register_observers(register: Register) -> None:
    """Register observers (metrics exporters, alerting): `register("prometheus", Exporter,
    config=ExporterConfig)`, configured in `[observers.<name>]`.

    The factory is called as `factory(config)`; the object it returns is registered with the
    plugin manager, so its observation hookimpls (`ml4t_live_on_run_start`, `..._on_bar_done`,
    `..._on_fill`, `..._on_run_end`...) are called. Observers watch; they never decide.
    """


@hookspec
def ml4t_live_register_demo_venues(register: Register) -> None:
    """Register simulated venues for `ml4t-live demo --broker <name>`: `register("alpaca-sim",
    AlpacaDemoVenue)`; the name is what the user types, `sim` is the core's own.

    The factory is called as `factory(spec)` with a `DemoSpec` (assets, bars, seed) and must
    return a `DemoVenue`: it starts a local simulator and composes the ordinary broker and feed
    plugins against it by config, never by importing them.
    """


@hookspec
def ml4t_live_register_commands(register: Register) -> None:
    """Add subcommands to `ml4t-live`: `register(click_command)`.

    Called lazily, the first time the CLI is asked for a command it does not have itself (or
    for `--help`), so plugins cost nothing at start-up for the core commands.
    """


@hookspec
def ml4t_live_on_session_end(
    records: list[JournalRecord], directory: Path, stats: RuntimeStats
) -> list[Path] | None:
    """A run of `ml4t-live run` or `demo` ended; `records` is this session's journal, oldest first.

    Write session artifacts (reports) under `directory` and return their paths, which the CLI
    prints. Called on the main thread after the engine stopped; may take seconds.
    """


@hookspec
def ml4t_live_check_order(order: OrderRequest, context: RiskContext) -> Rejection | None:
    """Decide on one order before it reaches the broker (or the shadow portfolio).

    Return None to accept or a `Rejection` naming the check with a reason that carries the
    numbers. Every implementation is called for every order; all rejections are reported
    together. Called on the event loop: never block, never raise for a bad order (reject it).
    """


@hookspec
def ml4t_live_on_order_accepted(order: OrderRequest, context: RiskContext) -> None:
    """An order passed every check and is being sent: count it (rate limits, duplicates)."""


@hookspec
def ml4t_live_on_bar(
    timestamp: datetime, data: dict[str, dict[str, Any]], context: RiskContext
) -> None:
    """A bar was received and marked to market, before the strategy sees it.

    Checks that watch equity (drawdown, daily loss) call `context.set_trading_state` here.
    """


@hookspec
def ml4t_live_on_fill(fill: Fill, context: RiskContext) -> None:
    """A fill was applied to the portfolio the checks see."""


@hookspec
def ml4t_live_on_account(snapshot: AccountSnapshot, context: RiskContext) -> None:
    """The broker reported new account values."""


@hookspec
def ml4t_live_on_run_start(stats: RuntimeStats, context: RiskContext) -> None:
    """The engine connected and synced the account; the strategy has not started yet.

    Observers start their own resources here (an HTTP endpoint on its own thread). Called on
    the event loop: return quickly.
    """


@hookspec
def ml4t_live_on_bar_done(
    timestamp: datetime, stats: RuntimeStats, callback_seconds: float, context: RiskContext
) -> None:
    """The strategy's `on_data` for this bar returned (or raised) after `callback_seconds`.

    `stats` are the engine's live counters: read them, never write them.
    """


@hookspec
def ml4t_live_on_run_end(stats: RuntimeStats, context: RiskContext) -> None:
    """The run ended (feed exhausted, stop requested or failure), after `on_end`, before the
    state is flushed and the broker disconnected. Observers release their resources here."""
