"""mkdocs hook: fills the reference pages from the code at build time, so they cannot drift.

A page holds a marker line `<!-- generated: cli -->` (or `config`, `hooks`); the hook replaces
it with markdown built from click's `main`, the installed plugins' pydantic schemas and the
hookspec docstrings. The same functions are used by tests/docs to check the pages.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from typing import Any

import click
from pydantic import BaseModel

SECTIONS = {  # plugin kind -> (config table, how a component is chosen)
    "broker": ("broker", 'one, chosen with `[broker] use = "<name>"`'),
    "feed": ("feed", 'one, chosen with `[feed] use = "<name>"`'),
    "feed_wrapper": ("feed.aggregator", 'enabled by `[feed] aggregate = "<interval>"`'),
    "state_store": (
        "state",
        'one, chosen with `[state] use = "<name>"` (default `json` when installed)',
    ),
    "risk_check": ("risk", "every installed check runs; each is off until its limits are set"),
    "observer": ("observers", "every installed observer runs"),
}


def cli_markdown() -> str:
    """Every command, plugin commands included, with its full `--help`."""
    from ml4t_live_core.cli import main

    out: list[str] = []

    def walk(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        ctx = click.Context(command, info_name=path[-1], parent=parent, terminal_width=100)
        out.append(f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`\n")
        out.append("```text\n" + command.get_help(ctx).rstrip() + "\n```\n")
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, [*path, name], ctx)

    walk(main, ["ml4t-live"], None)
    return "\n".join(out)


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "")
    return re.sub(r"<class '([\w.]+)'>", r"\1", text).replace("|", "\\|")


def _default(field: Any) -> str:
    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, dt.date | dt.time):  # as written in TOML, not as a Python repr
        return f"`{value.isoformat()}`"
    return f"`{value!r}`"


def _limits(field: Any) -> str:
    parts = []
    for meta in field.metadata:
        for name, symbol in (
            ("gt", ">"),
            ("ge", "≥"),
            ("lt", "<"),
            ("le", "≤"),
            ("pattern", "matches"),
        ):
            value = getattr(meta, name, None)
            if value is not None:
                parts.append(f"`{symbol} {value}`")
    return ", ".join(parts)


def schema_markdown(table: str, schema: type[BaseModel] | None) -> str:
    """One `[table]` section: the schema's docstring and a row per field."""
    if schema is None:
        return f"`[{table}]` takes no settings.\n"
    doc = inspect.cleandoc(schema.__doc__ or "")
    rows = ["| key | type | default | limits |", "| --- | --- | --- | --- |"]
    for name, field in schema.model_fields.items():
        rows.append(
            f"| `{name}` | `{_type_name(field.annotation)}` "
            f"| {_default(field)} | {_limits(field)} |"
        )
    return f"`[{table}]` — {schema.__name__}\n\n{doc}\n\n" + "\n".join(rows) + "\n"


def config_markdown() -> str:
    """[runtime], [logging], then every installed plugin's section."""
    from ml4t_live_core.config import LoggingConfig, RuntimeConfig
    from ml4t_live_core.plugins import Kind, load_plugins

    plugins = load_plugins()
    out = [
        "## Core\n",
        "### `[runtime]`\n",
        schema_markdown("runtime", RuntimeConfig),
        "### `[logging]`\n",
        schema_markdown("logging", LoggingConfig),
        "### `[plugins]`\n",
        '`disable = ["name", ...]`: plugins or components not to load '
        "(a name that matches nothing is an error).\n",
    ]
    for kind in Kind:
        if kind is Kind.DEMO_VENUE:  # no config table: chosen on the command line
            out.append(
                "## Demo venues\n\nSimulated brokers for `ml4t-live demo --broker <name>`; "
                "they take no settings.\n"
            )
            out += [
                f"### `{reg.name}`\n\nFrom plugin `{reg.plugin}`.\n"
                for reg in plugins.registry.all(kind)
            ]
            continue
        table, how = SECTIONS[kind.value]
        out.append(
            f"## {kind.value.replace('_', ' ').capitalize()} plugins\n\n{how.capitalize()}.\n"
        )
        for reg in plugins.registry.all(kind):
            section = table if kind is Kind.FEED_WRAPPER else f"{table}.{reg.name}"
            out.append(
                f"### `[{section}]`\n\nFrom plugin `{reg.plugin}`.\n\n"
                + schema_markdown(section, reg.config)
            )
    return "\n".join(out)


def hooks_markdown() -> str:
    """Every hookspec: its signature and its docstring (the contract)."""
    from ml4t_live_core import hookspecs

    out = []
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("ml4t_live_"):
            continue
        signature = str(inspect.signature(fn)).replace("'", "")
        out.append(
            f"### `{name}`\n\n```text\n{name}{signature}\n```\n\n"
            f"{inspect.cleandoc(fn.__doc__ or 'NO CONTRACT WRITTEN')}\n"
        )
    return "\n".join(out)


GENERATORS = {"cli": cli_markdown, "config": config_markdown, "hooks": hooks_markdown}
MARKER = re.compile(r"^<!-- generated: (\w+) -->$", re.MULTILINE)


def render(markdown: str) -> str:
    """Replace each marker with its generated markdown; an unknown marker is an error."""

    def replace(match: re.Match[str]) -> str:
        kind = match.group(1)
        if kind not in GENERATORS:
            raise ValueError(f"unknown generated section {kind!r} (known: {', '.join(GENERATORS)})")
        return GENERATORS[kind]()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return render(markdown)
