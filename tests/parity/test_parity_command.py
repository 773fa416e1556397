"""`ml4t-live parity FILE.py:Class --data ...` as a user runs it: exit 0 only on agreement."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ml4t.backtest.example_data import load_example_prices

from ml4t_live_core.cli import main
from ml4t_live_core.plugins import LOAD_ENV_VAR

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "parity_strategies.py"

LIVE_ONLY = '''
from ml4t.backtest import Strategy

class BuysMoreLive(Strategy):
    """Behaves differently when it notices the live wrapper: parity must catch it."""
    def __init__(self):
        self.done = False
    def on_data(self, timestamp, data, context, broker):
        if not self.done:
            self.done = True
            live = type(broker).__name__ != "Broker"
            broker.submit_order("AAPL", 12 if live else 10)
'''


def cli(*args: str) -> Result:
    """In-process (a subprocess per case costs seconds of imports); only the sim plugin loads."""
    return CliRunner().invoke(main, ["parity", *args], env={LOAD_ENV_VAR: "sim", "COLUMNS": "200"})


@pytest.fixture(scope="module", params=["csv", "parquet"])
def prices(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / f"prices.{request.param}"
    frame = load_example_prices("equity")
    frame.write_csv(path) if request.param == "csv" else frame.write_parquet(path)
    return path


def test_agreement_exits_zero(prices):
    result = cli(
        f"{EXAMPLES}:RoundTrip",
        "--data",
        str(prices),
        "--fill-timing",
        "close",
        "--commission-pct",
        "0.001",
        "--slippage-bps",
        "5",
    )
    assert result.exit_code == 0, result.output
    assert "PARITY" in result.output and "fills: backtest 2, live 2" in result.output
    assert "tolerance: price/fees 1e-09 relative, quantity 1e-09, cash 1e-06" in result.output
    # the cost options reached the runs: fills at the close of bars 1 and 5, 5 bps slippage
    # against the trader, 0.1% commission on each fill's notional
    closes = load_example_prices("equity").filter(asset="AAPL").sort("timestamp")["close"]
    notional = 100 * (closes[0] * (1 + 5e-4) + closes[4] * (1 - 5e-4))
    fees = f"{0.001 * notional:,.4f}"
    assert f"fees: backtest {fees}, live {fees}" in result.output


def test_a_run_without_orders_agrees_but_says_so(prices):
    result = cli(
        f"{EXAMPLES}:TargetPercent", "--data", str(prices)
    )  # 9 bars: never past its look-back
    assert result.exit_code == 0, result.output
    assert "placed no orders" in result.output


def test_disagreement_exits_one_with_a_side_by_side_table(prices, tmp_path):
    strategy = tmp_path / "live_only.py"
    strategy.write_text(LIVE_ONLY)
    result = cli(f"{strategy}:BuysMoreLive", "--data", str(prices))
    assert result.exit_code == 1, result.output
    assert "NO PARITY" in result.output
    assert "buy 10 AAPL" in result.output and "buy 12 AAPL" in result.output
    assert "position" in result.output and "AAPL" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["{examples}:Nope", "--data", "{prices}"], "has no class 'Nope'"),
        (["{examples}", "--data", "{prices}"], "expected path/to/file.py:ClassName"),
        (["{examples}:RoundTrip", "--data", "{missing}"], "does not exist"),
        (
            ["{examples}:RoundTrip", "--data", "{prices}", "--price-tolerance", "-1"],
            "must be a finite number >= 0",
        ),
        (
            ["{examples}:RoundTrip", "--data", "{prices}", "--slippage-bps", "-3"],
            "invalid sim broker setting",
        ),
        (
            ["{strategies}:NeedsArgs", "--data", "{prices}"],
            "must be constructible without arguments",
        ),
        (["{examples}:RoundTrip", "--data", "{corrupt}"], "cannot be read"),
        (["{examples}:RoundTrip", "--data", "{nan}"], "non-finite or non-positive price"),
    ],
)
def test_bad_input_names_the_problem(prices, tmp_path, args, message):
    strategies = tmp_path / "needs_args.py"
    strategies.write_text(
        "from ml4t.backtest import Strategy\n"
        "class NeedsArgs(Strategy):\n"
        "    def __init__(self, asset):\n        self.asset = asset\n"
        "    def on_data(self, timestamp, data, context, broker):\n        pass\n"
    )
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not a parquet file")
    nan = tmp_path / "nan.csv"
    load_example_prices("equity").with_columns(open=float("nan")).write_csv(nan)
    values = {
        "examples": EXAMPLES,
        "prices": prices,
        "missing": tmp_path / "missing.parquet",
        "strategies": strategies,
        "corrupt": corrupt,
        "nan": nan,
    }
    result = cli(*(a.format(**values) for a in args))
    assert result.exit_code == 2, result.output  # not run at all: neither agreement nor not
    assert message in result.output
