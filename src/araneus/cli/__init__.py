"""The ``araneus`` command-line interface: a thin typer layer over the Python API.

Each family of commands lives in its own module of this package and registers itself on
:data:`app` through ``register(app)``; arguments are checked by the one validation layer
:mod:`araneus.cli._args` before any work. :func:`main` turns every :class:`AraneusError`,
every usage error (unknown option, missing or malformed argument) and every operating-system
refusal (no permission, disk full) into one clear line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import sys

import typer
from typer._click import exceptions as click_exc  # usage errors (typer vendors click)

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
    "araneus.cli.design_cmds",
]

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


@app.callback()
def _root() -> None:
    """Generative design of bio-inspired 3-D spider-web structures."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_line(exc: click_exc.ClickException) -> str:
    """``araneus CMD: problem (see araneus CMD --help)`` for a usage error."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "araneus"
    msg = _one_line(exc.format_message()).rstrip(".")
    if msg[:1].isupper() and not msg[1:2].isupper():
        msg = msg[0].lower() + msg[1:]
    return f"{where}: {msg} (see {where} --help)"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script.

    Errors are one line on stderr (``error: ...``) with exit status 2: araneus errors,
    usage errors, and operating-system errors on a named file. ``araneus`` (or a command
    group) without arguments prints its help.
    """
    try:
        rv = app(args=argv, prog_name="araneus", standalone_mode=False)
    except click_exc.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help())
        sys.exit(0)
    except click_exc.ClickException as exc:
        typer.echo(f"error: {_usage_line(exc)}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(130)
    except AraneusError as exc:
        typer.echo(f"error: {_one_line(exc)}", err=True)
        sys.exit(2)
    except OSError as exc:
        if exc.filename is None and exc.strerror is None:
            raise
        name = f"{exc.filename}: " if exc.filename is not None else ""
        typer.echo(f"error: {name}{exc.strerror or exc}", err=True)
        sys.exit(2)
    except MemoryError:
        typer.echo("error: out of memory (try smaller sizes)", err=True)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) and not isinstance(rv, bool) else 0)
