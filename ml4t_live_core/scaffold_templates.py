"""The files `ml4t-live new-plugin` writes, as `string.Template`s keyed by relative path.

Placeholders: $dist (ml4t-live-foo), $package (ml4t_live_foo), $name (foo), $cls (Foo).
"""

from __future__ import annotations

PYPROJECT = """[project]
name = "$dist"
version = "0.1.0"
description = "ml4t-live plugin: $name ($kind)."
requires-python = ">=3.12"
dependencies = ["ml4t-live"]

[project.optional-dependencies]
test = ["ml4t-live-testing", "pytest>=8", "pytest-asyncio>=0.23"]

[project.entry-points.ml4t_live]
$name = "$package.plugin"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["$package"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
"""

INIT = '''"""ml4t-live plugin $name ($kind)."""
'''

BROKER_PLUGIN = '''"""Entry point of $dist: registers the `$name` broker.

Every ml4t-live command loads this module (`halt` too): it imports the config schema only, and
`deferred` imports the broker and its SDK when a run builds it.
"""

from ml4t_live_core.deferred import deferred
from ml4t_live_core.hookspecs import hookimpl

from $package.config import ${cls}Config


@hookimpl
def ml4t_live_register_brokers(register):
    register("$name", deferred("$package.broker:${cls}Broker"), config=${cls}Config)
'''

BROKER_CONFIG = '''"""Typed settings of [broker.$name]."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig


class ${cls}Config(PluginConfig):
    """Settings of the $name broker. Add your API's URL and (SecretStr) credentials here."""

    initial_cash: float = Field(default=100_000.0, gt=0, allow_inf_nan=False)
'''

BROKER = '''"""The $name broker: an async `BrokerAdapter`.

It starts as a paper venue (ml4t-live's `SimulatedVenue`: fills at the next bar's open), so
it passes the conformance kit from the first commit. Replace each method with calls to your
broker's API, one at a time, and keep tests/test_conformance.py green.
"""

from __future__ import annotations

from ml4t_live_core.venue import SimulatedVenue

from $package.config import ${cls}Config


class ${cls}Broker(SimulatedVenue):
    def __init__(self, config: ${cls}Config | None = None):
        self.config = config or ${cls}Config()
        super().__init__(initial_cash=self.config.initial_cash, name="$name")
'''

BROKER_TEST = '''"""$name passes the ml4t-live broker conformance kit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ml4t_live_core.protocols import BrokerAdapter
from ml4t_live_testing.conformance import BrokerConformance

from $package.broker import ${cls}Broker

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class Test${cls}Conformance(BrokerConformance):
    async def make_broker(self) -> BrokerAdapter:
        self.bars = 0
        return ${cls}Broker()

    async def trade_through(self, broker: BrokerAdapter, asset: str, price: float) -> None:
        # A paper venue fills on the bar after the order; a real API: post a quote to its stub.
        for _ in range(2):
            self.bars += 1
            bar = {"open": price, "high": price, "low": price, "close": price, "volume": 1e6}
            await broker.on_bar(T0 + timedelta(minutes=self.bars), {asset: bar})
'''

CHECK_PLUGIN = '''"""Entry point of $dist: registers the `$name` risk check."""

from ml4t_live_core.hookspecs import hookimpl

from $package.check import ${cls}Check, ${cls}Config


@hookimpl
def ml4t_live_register_risk_checks(register):
    register("$name", ${cls}Check, config=${cls}Config)
'''

CHECK = '''"""The `$name` risk check: rejects orders larger than `max_quantity` (off unless set)."""

from __future__ import annotations

from pydantic import Field

from ml4t_live_core.config import PluginConfig
from ml4t_live_core.hookspecs import hookimpl
from ml4t_live_core.risk import OrderRequest, Rejection, RiskContext

NAME = "$name"


class ${cls}Config(PluginConfig):
    """Settings of [risk.$name]."""

    max_quantity: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class ${cls}Check:
    name = NAME

    def __init__(self, config: ${cls}Config | None = None):
        self.config = config or ${cls}Config()

    @hookimpl
    def ml4t_live_check_order(self, order: OrderRequest, context: RiskContext) -> Rejection | None:
        limit = self.config.max_quantity
        if limit is None or order.is_close or order.quantity <= limit:
            return None
        return Rejection(NAME, f"{order.asset}: quantity {order.quantity:g} exceeds {limit:g}")
'''

CHECK_TEST = '''"""$name: rejects what it should, passes the rest."""

from __future__ import annotations

from ml4t_live_testing.risk import order_request, risk_context

from $package.check import ${cls}Check, ${cls}Config


def test_an_order_over_the_limit_is_rejected():
    check = ${cls}Check(${cls}Config(max_quantity=10))
    context = risk_context(prices={"AAPL": 100.0})
    order = order_request(context, "AAPL", 11)
    rejection = check.ml4t_live_check_order(order=order, context=context)
    assert rejection is not None and rejection.check == "$name"
    assert "quantity 11 exceeds 10" in rejection.reason


def test_an_order_within_the_limit_passes():
    check = ${cls}Check(${cls}Config(max_quantity=10))
    context = risk_context(prices={"AAPL": 100.0})
    order = order_request(context, "AAPL", 10)
    assert check.ml4t_live_check_order(order=order, context=context) is None


def test_off_unless_set():
    check = ${cls}Check()
    context = risk_context(prices={"AAPL": 100.0})
    order = order_request(context, "AAPL", 1e6)
    assert check.ml4t_live_check_order(order=order, context=context) is None
'''

README = """# $dist

An ml4t-live $kind plugin, scaffolded by `ml4t-live new-plugin`.

    uv pip install -e ".[test]"
    pytest
    ml4t-live plugins        # lists "$name"
"""

TEMPLATES: dict[str, dict[str, str]] = {
    "broker": {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        "$package/__init__.py": INIT,
        "$package/plugin.py": BROKER_PLUGIN,
        "$package/config.py": BROKER_CONFIG,
        "$package/broker.py": BROKER,
        "tests/test_conformance.py": BROKER_TEST,
    },
    "risk-check": {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        "$package/__init__.py": INIT,
        "$package/plugin.py": CHECK_PLUGIN,
        "$package/check.py": CHECK,
        "tests/test_check.py": CHECK_TEST,
    },
}

from ml4t_live_core.scaffold_store_template import STORE, STORE_PLUGIN, STORE_TEST  # noqa: E402

TEMPLATES["state-store"] = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "$package/__init__.py": INIT,
    "$package/plugin.py": STORE_PLUGIN,
    "$package/store.py": STORE,
    "tests/test_contract.py": STORE_TEST,
}
