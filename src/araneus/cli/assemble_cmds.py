"""CLI command ``araneus assemble``: grow a structure by joining pieces along a curve."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError


def parse_schedule(items: list[str]) -> dict[str, float | tuple[float, float]]:
    """``name=value`` (constant) or ``name=start:end`` (linear ramp from first to last piece)."""
    out: dict[str, float | tuple[float, float]] = {}
    for it in items:
        if "=" not in it:
            raise InputError(f"--condition expects name=value or name=start:end, got {it!r}")
        name, raw = (s.strip() for s in it.split("=", 1))
        parts = raw.split(":")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise InputError(f"--condition {name}={raw!r}: not a number or start:end") from None
        if len(vals) == 1:
            out[name] = vals[0]
        elif len(vals) == 2:
            out[name] = (vals[0], vals[1])
        else:
            raise InputError(f"--condition {name}={raw!r}: use value or start:end")
    return out


#: Most placements of one assembly: from files, and from a model (one sample each).
MAX_PIECES = 100_000
MAX_MODEL_PIECES = 10_000


class _Counted:
    """A model whose every ``sample`` call advances a progress bar (assembly samples one
    piece per placement)."""

    def __init__(self, model, bar):
        self.model, self.bar = model, bar

    def sample(self, conditions, n, **kw):
        out = self.model.sample(conditions, n, **kw)
        self.bar.advance(n)
        return out


def register(app: typer.Typer) -> None:
    """Add the ``assemble`` command to ``app``."""

    @app.command()
    def assemble(
        pieces: list[Path] = typer.Argument(
            None, help="Piece files (same as --piece; lets a shell glob expand here)."
        ),
        curve: str = typer.Option(
            "helix", "--curve", help="helix, reference, lorenz, circle, line or spline."
        ),
        settings: list[str] = typer.Option(
            [], "--set", help="Curve parameter key=value (repeatable), e.g. radius=20."
        ),
        steps: int = typer.Option(None, "--steps", help="Number of pieces placed."),
        piece: list[Path] = typer.Option([], "--piece", help="Piece web file (repeatable)."),
        model: str = typer.Option(
            None,
            "--model",
            help="Model checkpoint folder (runs/NAME) or a shipped model's name "
            "(sparse, discrete, autoregressive).",
        ),
        condition: list[str] = typer.Option(
            [], "--condition", "-c", help="name=value or name=start:end ramp (with --model)."
        ),
        points: Path = typer.Option(None, "--points", help="CSV of x,y,z control points (spline)."),
        overlap: float = typer.Option(0.5, "--overlap", help="Fraction of piece size shared."),
        tol: float = typer.Option(None, "--tol", help="Merge tolerance (length units)."),
        stitch_radius: float = typer.Option(None, "--stitch-radius", help="Stitch radius."),
        max_degree: int = typer.Option(5, "--max-degree", help="Degree limit for stitches."),
        scale: float = typer.Option(1.0, "--scale", help="Scale factor applied to pieces."),
        upright: bool = typer.Option(False, "--upright", help="Translate pieces only."),
        seed: int = typer.Option(0, "--seed", help="Seed for generated pieces."),
        out: Path = typer.Option(..., "--out", "-o", help="Output web file (.json, ...)."),
        preview: Path = typer.Option(None, "--preview", help="Also write a PNG preview."),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Assemble pieces (files or a model's samples) along a design curve into one web."""
        from .._progress import Progress
        from ..assembly import CurveSpec, read_points_csv
        from ..assembly import assemble as run_assembly
        from ..io import format_for, read_web, write_web
        from . import _args as A

        files = list(piece) + list(pieces or [])
        if bool(files) == (model is not None):
            raise InputError("give piece files (--piece FILE ...) or --model DIR, not both/neither")
        if condition and model is None:
            raise InputError("--condition needs --model")
        if steps is not None:
            hi = MAX_MODEL_PIECES if model is not None else MAX_PIECES
            why = "each piece is sampled from the model" if model is not None else "pieces"
            A.count(steps, "--steps", 1, hi, why)
        A.number(overlap, "--overlap", 0.0, 1.0)
        A.optional_number(tol, "--tol", 0.0, 1e9)
        A.optional_number(stitch_radius, "--stitch-radius", 0.0, 1e9)
        A.count(max_degree, "--max-degree", 1, 64)
        A.number(scale, "--scale", 0.0, 1e6, lo_open=True)
        A.seed(seed)
        A.out_file(out, inputs=files)
        format_for(out, None, "write")
        if preview is not None:
            from ..report.plot import figure_format

            figure_format(preview)
            A.out_file(preview, "--preview", inputs=[*files, out])
        schedule = parse_schedule(condition)
        pts = read_points_csv(points) if points is not None else None
        spec = CurveSpec(curve, settings, pts)
        with Progress("assemble", steps if model is not None else None, enabled=progress) as bar:
            if model is not None:
                from ..models import load_model_or_pretrained

                bar.update(label=f"assemble: loading {model}")
                source = _Counted(load_model_or_pretrained(model), bar)
                bar.update(label="assemble: sampling pieces")
            else:
                source = [read_web(f) for f in files]
                source = source[0] if len(source) == 1 else source
            web, report = run_assembly(
                spec,
                source,
                steps=steps,
                overlap=overlap,
                orient="upright" if upright else "frame",
                scale=scale,
                tol=tol,
                stitch_radius=stitch_radius,
                max_degree=max_degree,
                conditions=schedule,
                seed=seed,
            )
            bar.update(label=f"assemble: writing {out.name}")
            write_web(web, out)
        if preview is not None:
            from ..report.plot import plot_web

            plot_web(web, preview, title=f"{curve}: {report.pieces} pieces, {web.n_nodes} nodes")
        typer.echo(
            f"wrote {out}: {web.n_nodes} nodes, {web.n_edges} edges, {report.pieces} pieces, "
            f"{report.merged_nodes} merged, {report.stitches} stitches, "
            f"{report.bridges} bridges, {report.components} component(s)"
        )
