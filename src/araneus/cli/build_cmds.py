"""CLI commands ``araneus build`` (procedural orb, tent and tangle webs) and ``resample``."""

from __future__ import annotations

from pathlib import Path

import typer

#: Most segments ``resample`` may cut a web into (memory of the sag solve grows with it).
MAX_SEGMENTS = 2_000_000


def register(app: typer.Typer) -> None:
    """Add the ``build`` and ``resample`` commands to ``app``."""

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
        --preview orb.png. --set resolution=auto (or a segment length in mm) gives the
        scan-like form: threads as polylines of short jittered segments.
        """
        from .. import builders
        from .._util import apply_overrides
        from ..errors import ConfigError
        from ..io import format_for, write_web
        from . import _args as A

        if family not in builders.BUILDERS:
            raise ConfigError(
                f"unknown web family {family!r}; valid: {', '.join(builders.BUILDERS)}"
            )
        A.seed(seed)
        A.out_file(out)
        format_for(out, None, "write")  # fail on a bad name before the build
        if preview is not None:
            from ..report.plot import _check_linewidth, figure_format

            figure_format(preview)
            A.out_file(preview, "--preview")
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
        if "resample" in web.meta:
            msg += f", scan-like (segments ~{web.meta['resample']['resolution']:.3g} mm)"
        if preview is not None:
            from ..report.plot import plot_web

            plot_web(web, preview, title=f"{family} web (seed {seed})", linewidth=linewidth)
            msg += f"; preview {preview}"
        typer.echo(msg)

    @app.command()
    def resample(
        src: Path = typer.Argument(..., metavar="IN", help="Input web file."),
        dst: Path = typer.Argument(..., metavar="OUT", help="Output web file."),
        resolution: str = typer.Option(
            "auto", "--resolution", "-r",
            help="Segment length (web units), 'auto' (half the median thread length, at most "
            "twice the spacing of neighbouring threads) or 0.",
        ),
        seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same web)."),
        segment_cv: float = typer.Option(
            0.6, "--segment-cv", help="Spread (CV) of segment lengths along a thread."
        ),
        jitter: float = typer.Option(0.1, "--jitter", help="Lateral noise, fraction of R."),
        sag: float = typer.Option(
            0.01, "--sag", help="Mid-span sag ratio of a thread of unit force density."
        ),
        format: str = typer.Option(
            None, "--format", "-f", help="Input format (overrides IN's suffix)."
        ),
        to: str = typer.Option(None, "--to", "-t", help="Output format (overrides OUT's suffix)."),
    ) -> None:
        """Scan-like form of any web: threads as polylines of short, jittered, sagging segments.

        Example: araneus resample orb.json orb_scan.json --resolution auto
        """  # fmt: skip
        from ..builders.resample import parse_resolution
        from ..builders.resample import resample as resample_web
        from ..io import format_for, read_web, write_web
        from . import _args as A

        res = parse_resolution(resolution, "--resolution")
        A.seed(seed)
        A.out_file(dst, "OUT", inputs=[src])
        format_for(dst, to, "write")  # fail before the work on a bad output name
        web = read_web(src, format)
        out = resample_web(web, res, segment_cv=segment_cv, jitter=jitter, sag=sag, seed=seed,
                           max_segments=MAX_SEGMENTS)  # fmt: skip
        write_web(out, dst, to)
        r = out.meta.get("resample", {}).get("resolution", 0.0)
        typer.echo(
            f"{src} -> {dst}: {web.n_nodes} -> {out.n_nodes} nodes, {web.n_edges} -> "
            f"{out.n_edges} edges, segments ~{r:.4g} (degree-2 share "
            f"{float((out.degrees == 2).mean()):.2f})"
        )
