"""Entry point `testing` of ml4t-live-testing: registers the demo venues.

The venues import their simulators (aiohttp, msgpack) only when one is built, so loading the
plugin costs the other commands nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml4t_live_core.hookspecs import Register, hookimpl

if TYPE_CHECKING:  # demo_venue imports ml4t-backtest, which the other commands need not pay for
    from ml4t_live_core.demo_venue import DemoSpec


def _alpaca(spec: DemoSpec) -> Any:
    from ml4t_live_testing.venues.alpaca import AlpacaDemoVenue

    return AlpacaDemoVenue(spec)


def _ib(spec: DemoSpec) -> Any:
    from ml4t_live_testing.venues.ib import IBDemoVenue

    return IBDemoVenue(spec)


@hookimpl
def ml4t_live_register_demo_venues(register: Register) -> None:
    register("alpaca-sim", _alpaca)
    register("ib-sim", _ib)
