"""Every `ml4t-live ...` command line the docs and the README show (shell blocks, the systemd
unit's ExecStart, inline code) parses against the real CLI: the command exists and takes
those options in that place. Only parsing runs; nothing is executed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from ml4t_live_core.cli import main
from ml4t_live_core.plugins import LOAD_ENV_VAR

from .docs_blocks import DOCS, ROOT, blocks

_INLINE = re.compile(r"`(ml4t-live [^`]+)`")
#: Inline mentions that name a command without being a full command line.
_PARTIAL = re.compile(r"\.\.\.|FILE")


def _shell_lines() -> list[tuple[str, str, bool]]:
    found = []
    for block in blocks():
        if block.lang not in ("bash", "ini"):
            continue
        for offset, line in enumerate(block.code.replace("\\\n", " ").splitlines()):
            line = line.removeprefix("ExecStart=").strip()
            if re.match(r"^(\S*=\S* )*(uv run )?\S*ml4t-live ", line):
                found.append((f"{block.page}:{block.line + offset + 1}", line, True))
    return found


def _inline_lines() -> list[tuple[str, str, bool]]:
    found = []
    pages = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]
    for page in pages:
        text = re.sub(r"\n\s*", " ", page.read_text())  # a code span may wrap across lines
        for match in _INLINE.finditer(text):
            if not _PARTIAL.search(match.group(1)):
                found.append((page.name, match.group(1), False))
    return found


COMMANDS = _shell_lines() + _inline_lines()


def _argv(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    while "=" in words[0] and not words[0].startswith("-"):  # VAR=value prefixes
        words.pop(0)
    if words[:2] == ["uv", "run"]:
        words = words[2:]
    assert Path(words[0]).name == "ml4t-live", line
    return words[1:]


def _parse(argv: list[str], complete: bool) -> None:
    """Parse like click would before invoking, down to the leaf command; never invoke. A
    mention in prose (`complete` false) may leave out required arguments, never misplace one."""
    ctx = main.make_context("ml4t-live", list(argv))
    command: click.Command = main
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            return
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None, f"no command {name!r}"
        try:
            ctx = sub.make_context(name, rest, parent=ctx)
        except click.MissingParameter:  # raised after every option was matched
            if complete:
                raise
            return
        command = sub


def test_the_docs_show_command_lines_to_check():
    assert len(COMMANDS) >= 25
    assert any(page.startswith("operations/systemd.md") for page, _, _ in COMMANDS)


@pytest.mark.parametrize(("where", "line", "complete"), COMMANDS,
                         ids=[f"{w}:{c[:40]}" for w, c, _ in COMMANDS])
def test_documented_command_line_parses(where: str, line: str, complete: bool, monkeypatch):
    monkeypatch.delenv(LOAD_ENV_VAR, raising=False)  # plugin commands (report) must be there
    try:
        _parse(_argv(line), complete)
    except click.exceptions.Exit:  # --help / --version
        pass
    except click.BadParameter as exc:
        if "does not exist" not in exc.format_message():  # a file the reader would have
            pytest.fail(f"{where}: `{line}` does not parse: {exc.format_message()}")
    except click.ClickException as exc:
        pytest.fail(f"{where}: `{line}` does not parse: {exc.format_message()}")
