"""Composition: from a config file (or a dict, in a notebook) to a ready LiveEngine.

    runtime = build(MyStrategy(), "live.toml")
    stats = asyncio.run(runtime.engine.run())
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml4t.backtest import Strategy

from ml4t_live_core.clock import Clock, MarketClock, SystemClock

# load_config lives in config (it needs no ml4t.backtest); imported from here as before.
from ml4t_live_core.config import LiveConfig, load_config
from ml4t_live_core.engine import LiveEngine
from ml4t_live_core.memory_store import MemoryStateStore
from ml4t_live_core.plugins import Kind, Plugins
from ml4t_live_core.protocols import BrokerAdapter, DataFeed, StateStore
from ml4t_live_core.safety import SafeBroker
from ml4t_live_core.venue import SimulatedVenue

log = logging.getLogger("ml4t_live.compose")


@dataclass(slots=True)
class Runtime:
    """Everything composed for one run; `engine.run()` starts it."""

    engine: LiveEngine
    safe: SafeBroker
    broker: BrokerAdapter
    feed: DataFeed
    store: StateStore | None
    config: LiveConfig
    plugins: Plugins
    clock: Clock


def build(
    strategy: Strategy,
    config: str | Path | LiveConfig | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    extra_plugins: Iterable[tuple[object, str]] = (),
    plugins: Plugins | None = None,
    broker: BrokerAdapter | None = None,
    feed: DataFeed | None = None,
    store: StateStore | None = None,
    clock: Clock | None = None,
) -> Runtime:
    """Compose a runtime. Components passed in (broker, feed, store, clock) replace the ones
    the config names; that is how tests and notebooks inject simulators and clocks."""
    if isinstance(config, LiveConfig):
        if plugins is None:
            raise ValueError("build() with a LiveConfig needs the Plugins it was validated against")
        cfg = config
    else:
        cfg, plugins = load_config(config, overrides=overrides, extra_plugins=extra_plugins)
    assert plugins is not None
    registry = plugins.registry
    broker = broker or registry.get(Kind.BROKER, cfg.broker).factory(cfg.broker_config)
    feed = feed or registry.get(Kind.FEED, cfg.feed).factory(cfg.feed_config)
    clock = clock or (SystemClock() if feed.realtime else MarketClock())
    for name, wrapper_cfg in cfg.wrappers:
        feed = registry.get(Kind.FEED_WRAPPER, name).factory(wrapper_cfg, feed, clock=clock)
    if store is None:
        if cfg.state is not None:
            store = registry.get(Kind.STATE_STORE, cfg.state).factory(cfg.state_config)
        else:
            log.warning("no state backend installed: risk state and journal are NOT persisted")
            store = MemoryStateStore()
    for reg in registry.all(Kind.RISK_CHECK):
        check = reg.factory(cfg.risk[reg.name])
        plugins.pm.register(check, name=f"risk-check:{reg.name}")
    for reg in registry.all(Kind.OBSERVER):
        plugins.pm.register(reg.factory(cfg.observers[reg.name]), name=f"observer:{reg.name}")
    if not registry.names(Kind.RISK_CHECK):
        log.warning(
            "no risk checks are installed or enabled: orders are only validated, not limited"
        )
    runtime = cfg.runtime
    shadow = (
        SimulatedVenue(fill_timing="last_price", clock=clock, name="shadow")
        if runtime.shadow
        else None
    )
    safe = SafeBroker(
        broker,
        hooks=plugins.hook,
        runtime=runtime,
        clock=clock,
        store=store,
        shadow_venue=shadow,
        prefix=client_order_prefix(strategy, cfg),
    )
    engine = LiveEngine(strategy, safe, feed, runtime=runtime, clock=clock)
    return Runtime(engine, safe, broker, feed, store, cfg, plugins, clock)


def client_order_prefix(strategy: Strategy, cfg: LiveConfig) -> str:
    """Configured prefix, else one derived from strategy id and account (unique per both)."""
    if cfg.runtime.client_order_prefix:
        return cfg.runtime.client_order_prefix
    strategy_id = cfg.runtime.strategy_id or type(strategy).__name__
    raw = f"{strategy_id}.{cfg.runtime.account}"
    return re.sub(r"[^A-Za-z0-9_.]", "_", raw)[:32]
