"""Risk-check overhead per order with 500 open positions: every check registered through the
entry points (`load_plugins().registry.all(Kind.RISK_CHECK)`), called as the runtime calls
them (`SafeBroker._check`: the hook, all rejections collected) on a real RiskContext.

Target: p50 <= 50 us for the standard set.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from harness import handoff_floor, percentiles, report, time_calls
from ml4t_live_testing.risk import order_request, risk_context
from scenarios import quiet, risk_overrides

from ml4t_live_core.plugins import Kind, load_plugins, new_plugin_manager

POSITIONS = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    args = parser.parse_args()
    quiet()
    plugins = load_plugins()
    limits = risk_overrides(plugins)
    pm = new_plugin_manager()
    checks = []
    for reg in plugins.registry.all(Kind.RISK_CHECK):
        config = reg.config(**limits.get(reg.name, {})) if reg.config is not None else None
        pm.register(reg.factory(config), name=f"risk-check:{reg.name}")
        checks.append(reg.name)
    assets = [f"A{i:03d}" for i in range(POSITIONS)]
    prices = {a: 100.0 + i * 0.01 for i, a in enumerate(assets)}
    context = risk_context(positions={a: 10.0 for a in assets}, prices=prices, cash=1_000_000.0)
    context.hooks = pm.hook
    asyncio.run(context.venue.connect())
    requests = [order_request(context, assets[i % POSITIONS], 1 + i % 7) for i in range(997)]
    rejected: list[Any] = []
    counter = iter(range(10**9))

    def one() -> None:
        rejections = context._check(requests[next(counter) % len(requests)])
        if rejections:
            rejected.append(rejections)

    time_calls(one, 1_000)  # warm-up
    rejected.clear()
    latency = percentiles(time_calls(one, args.orders))
    bare = new_plugin_manager()
    context.hooks = bare.hook
    empty = percentiles(time_calls(one, args.orders))  # the hook call with no checks at all
    results = {
        "handoff_floor": handoff_floor(),
        "checks": checks,
        "open_positions": POSITIONS,
        "per_order": latency,
        "no_checks_registered": empty,
        "rejected_in_run": len(rejected),
        "example_rejection": str(rejected[0]) if rejected else None,
    }
    report(
        "risk_checks",
        results,
        {"p50_within_50us": latency["p50_us"] <= 50.0, "no_rejections": not rejected},
    )


if __name__ == "__main__":
    main()
