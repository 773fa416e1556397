"""`ml4t-live new-plugin KIND NAME`: write a plugin distribution that works from the start
(its generated tests pass, a broker passes the conformance kit)."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import click

from ml4t_live_core.scaffold_templates import TEMPLATES

KINDS = tuple(TEMPLATES)
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def scaffold(kind: str, name: str, directory: Path) -> Path:
    """Create `directory/ml4t-live-NAME/`; refuse bad names, unknown kinds, existing folders."""
    if kind not in TEMPLATES:
        raise ValueError(f"unknown plugin kind {kind!r} (known: {', '.join(KINDS)})")
    if not _NAME.match(name):
        raise ValueError(
            f"plugin name {name!r} must be lower-case letters/digits separated by "
            "single hyphens, starting with a letter (e.g. 'my-broker')"
        )
    dist = f"ml4t-live-{name}"
    target = directory / dist
    if target.exists():
        raise FileExistsError(f"{target} already exists; not overwriting it")
    values = {
        "dist": dist,
        "package": dist.replace("-", "_"),
        "name": name,
        "kind": kind,
        "cls": "".join(part.capitalize() for part in name.split("-")),
    }
    for relative, text in TEMPLATES[kind].items():
        path = target / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values))
    return target


@click.command("new-plugin")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the ml4t-live-NAME folder.",
)
def new_plugin_command(kind: str, name: str, directory: Path) -> None:
    """Scaffold a plugin distribution: KIND broker|risk-check|state-store, NAME like my-broker."""
    try:
        target = scaffold(kind, name, directory)
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {target}\nnext: cd {target} && uv pip install -e '.[test]' && pytest")
