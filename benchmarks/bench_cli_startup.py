"""CPU time of the operational commands (`--help`, `halt`, `plugins`, `state show`) in a fresh
process, every installed plugin loading, beside the cost they avoid: importing ml4t-backtest.

CPU time (user + sys of the child, from getrusage) rather than wall time: the machine is shared.
Target: each command <= 0.5 x `import ml4t.backtest` alone (it used to cost more than that).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import median_of_runs, report


def cpu_seconds(args: list[str]) -> float:
    """User + sys CPU seconds of one child process running `args`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "ml4t_live_core"]
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        config = Path(tmp) / "live.toml"
        config.write_text(f'[state]\nuse = "json"\n[state.json]\ndirectory = "{tmp}/state"\n')
        commands = {
            "--help": [*cli, "--help"],
            "halt": [*cli, "halt", "--reason", "bench", "--config", str(config)],
            "plugins": [*cli, "plugins"],
            "state show": [*cli, "state", "show", "--config", str(config)],
        }
        references = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import ml4t.backtest": [sys.executable, "-c", "import ml4t.backtest"],
        }
        results = {
            name: median_of_runs(lambda a=argv: cpu_seconds(a), args.repeats)
            for name, argv in {**references, **commands}.items()
        }
    avoided = results["import ml4t.backtest"]["median"]
    for name in commands:
        results[name]["ratio_to_backtest_import"] = results[name]["median"] / avoided
    targets = {
        f"{name} <= 0.5 x import ml4t.backtest": results[name]["median"] <= 0.5 * avoided
        for name in commands
    }
    report("cli_startup", results, targets)


if __name__ == "__main__":
    main()
