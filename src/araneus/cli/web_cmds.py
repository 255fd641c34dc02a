"""CLI commands on single web files: info, convert, repair, analyze."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the web-file commands to ``app``."""

    @app.command()
    def version() -> None:
        """Print the araneus version."""
        from .. import __version__

        typer.echo(__version__)
