"""Finds the fenced code blocks of docs/*.md, with --8<-- snippet includes expanded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_FENCE = re.compile(
    r"^```(?P<lang>[\w-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL
)
_SNIPPET = re.compile(r'^--8<-- "(?P<path>[^"]+)"\s*$', re.MULTILINE)
#: Info-string marker for a Python block that cannot run offline: it is only compiled.
NEEDS = 'title="needs'


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    info: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _expand(body: str) -> str:
    def include(match: re.Match[str]) -> str:
        path = ROOT / match.group("path")
        if not path.is_file():
            raise FileNotFoundError(f"snippet {match.group('path')} does not exist")
        return path.read_text()

    return _SNIPPET.sub(include, body)


def blocks(lang: str | None = None) -> list[Block]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text()
        for match in _FENCE.finditer(text):
            if lang is None or match.group("lang") == lang:
                found.append(
                    Block(
                        str(page.relative_to(DOCS)),
                        text.count("\n", 0, match.start()) + 1,
                        match.group("lang"),
                        match.group("info").strip(),
                        _expand(match.group("body")),
                    )
                )
    return found
