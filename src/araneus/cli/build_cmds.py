"""CLI command ``araneus build``: procedural orb, tent and tangle webs."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``build`` command to ``app``."""

    @app.command()
    def build(
        family: str = typer.Argument(..., help="Web family: orb, tent or tangle."),
        out: Path = typer.Option(..., "--out", "-o", help="Output web file (e.g. web.json)."),
        seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same web)."),
        set_: list[str] = typer.Option(
            [], "--set", help="Config override key=value (repeatable), e.g. --set n_anchors=5."
        ),
        preview: Path | None = typer.Option(
            None, "--preview", help="Also save a 3-D picture (PNG/SVG/PDF)."
        ),
        linewidth: float | None = typer.Option(
            None, "--linewidth", help="Preview line width in points (default: by web size)."
        ),
    ) -> None:
        """Build a procedural spider web and write it to a file.

        Example: araneus build orb --seed 3 --set max_radial_gap=30 --out orb.json
        --preview orb.png
        """
        from .. import builders
        from .._util import apply_overrides
        from ..errors import ConfigError
        from ..io import format_for, write_web

        if family not in builders.BUILDERS:
            raise ConfigError(
                f"unknown web family {family!r}; valid: {', '.join(builders.BUILDERS)}"
            )
        if seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {seed}")
        format_for(out, None, "write")  # fail on a bad name before the build
        if preview is not None:
            from ..plot import _check_linewidth, figure_format

            figure_format(preview)
            if linewidth is not None:
                _check_linewidth(linewidth)
        spec = builders.BUILDERS[family]
        cfg = apply_overrides(spec.config(), set_, what=f"{family} config")
        web = builders.build(family, cfg, seed)
        write_web(web, out)
        msg = (
            f"wrote {out}: {family} web, {web.n_nodes} nodes, {web.n_edges} edges, "
            f"mean degree {web.degrees.mean():.2f}, seed {seed}"
        )
        if preview is not None:
            from ..plot import plot_web

            plot_web(web, preview, title=f"{family} web (seed {seed})", linewidth=linewidth)
            msg += f"; preview {preview}"
        typer.echo(msg)
