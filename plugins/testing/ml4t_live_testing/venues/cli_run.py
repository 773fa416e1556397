"""Run `ml4t-live demo --broker <venue>` as a user does (a subprocess) and read back what it
did: its output, the journal it wrote and the simulator's book it printed. For venue tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "ml4t-live"


@dataclass(frozen=True, slots=True)
class DemoRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def journal_dir(self) -> Path:
        match = re.search(r"state and journal: json at (\S+)", self.stdout)
        if match is None:
            raise AssertionError(f"the demo printed no journal location:\n{self.stdout[-2000:]}")
        return Path(match.group(1))

    def journal(self) -> list[dict]:
        return [
            json.loads(line)
            for line in (self.journal_dir / "journal.jsonl").read_text().splitlines()
        ]

    def journal_positions(self) -> dict[str, float]:
        """Net filled quantity per asset, from the journal's fill records alone."""
        positions: dict[str, float] = {}
        for r in self.journal():
            if r["event"] in ("filled", "partially_filled"):
                signed = r["filled_quantity"] if r["side"] == "buy" else -r["filled_quantity"]
                positions[r["asset"]] = positions.get(r["asset"], 0.0) + signed
        return {a: q for a, q in positions.items() if q}

    def venue_positions(self, venue: str) -> dict[str, float]:
        """What the demo printed from the simulator's own book."""
        match = re.search(
            rf"^{re.escape(venue)} account \(the simulator's own book\): .*; positions: (.*)$",
            self.stdout,
            re.MULTILINE,
        )
        if match is None:
            raise AssertionError(f"no {venue} account line in the output:\n{self.stdout[-2000:]}")
        text = match.group(1).strip()
        if text == "none":
            return {}
        return {asset: float(qty) for asset, qty in (item.split() for item in text.split(", "))}


def run_demo(
    venue: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> DemoRun:
    """`ml4t-live demo --broker venue *args`, wide enough that no line wraps."""
    environ = {**os.environ, "COLUMNS": "250", **(env or {})}
    result = subprocess.run(
        [str(SCRIPT), "demo", "--broker", venue, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environ,
    )
    return DemoRun(result.returncode, result.stdout, result.stderr)
