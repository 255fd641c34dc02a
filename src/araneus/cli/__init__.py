"""The ``araneus`` command-line interface: a thin typer layer over the Python API.

Each family of commands lives in its own module of this package and registers itself on
:data:`app` through ``register(app)``; :func:`main` turns every :class:`AraneusError`
into one clear line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import sys

import typer

from ..errors import AraneusError

app = typer.Typer(
    name="araneus",
    help="Generative design of bio-inspired 3-D spider-web structures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command modules, each defining ``register(app)``. Add new families here.
COMMAND_MODULES = [
    "araneus.cli.data_cmds",
    "araneus.cli.assemble_cmds",
    "araneus.cli.model_cmds",
    "araneus.cli.io_cmds",
    "araneus.cli.web_cmds",
    "araneus.cli.analyze_cmds",
    "araneus.cli.mech_cmds",
    "araneus.cli.build_cmds",
    "araneus.cli.mesh_cmds",
    "araneus.cli.demo_cmds",
]

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


@app.callback()
def _root() -> None:
    """Generative design of bio-inspired 3-D spider-web structures."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; converts araneus errors to one-line messages."""
    try:
        app(args=argv, prog_name="araneus")
    except AraneusError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
