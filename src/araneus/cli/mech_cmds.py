"""CLI command ``araneus test``: virtual mechanical tests of a web file."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the mechanics commands to ``app``."""

    @app.command("test")
    def test_web(
        path: Path = typer.Argument(..., help="Web file (any format araneus reads), mm."),
        test: str = typer.Option("tension-z", "--test", help="tension|compression|point-x|y|z"),
        material: str = typer.Option(
            "silk", "--material", help="silk|dragline|viscid|pla|tpu|resin"
        ),
        strut: float | None = typer.Option(None, "--strut", help="Strut diameter [mm]."),
        strain: float | None = typer.Option(
            None, "--strain", help="Stop at this nominal strain (default: final failure)."
        ),
        steps: int = typer.Option(50, "--steps", help="Resolution: at least this many steps."),
        frac: float = typer.Option(0.05, "--frac", help="Grip slab thickness (fraction)."),
        node: int | None = typer.Option(None, "--node", help="Loaded node of point tests."),
        pretension: str = typer.Option(
            "auto",
            "--pretension",
            help="auto (silk: a few % of breaking force; printed: none), none, or a "
            "median thread tension in N.",
        ),
        out: Path = typer.Option(Path("results"), "--out", help="Output folder."),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Run a virtual mechanical test to final failure; write curve CSV/PNG, stress view,
        summary; say how the test ended."""
        from .._progress import Progress
        from ..io import read_web
        from ..mechanics.virtual import MAX_STRAIN, parse_pretension, virtual_test
        from . import _args as A

        A.out_dir(out)  # fail before the (long) test on an output that cannot be written
        A.count(steps, "--steps", 2, 100_000, "increments to store")
        A.optional_number(strain, "--strain", 0.0, 10.0, lo_open=True)
        A.number(frac, "--frac", 0.0, 0.5, lo_open=True)
        level = parse_pretension(pretension)
        web = read_web(path)
        final = MAX_STRAIN if strain is None else strain
        # to final failure the end is unknown: a spinner with the strain reached, not an ETA
        total = None if strain is None else 1000
        with Progress(f"test {test} ({material})", total, enabled=progress,
                      fields={"strain": 0.0, "broken": 0},
                      fmt="strain {strain:.1%}, {broken} broken") as bar:  # fmt: skip

            def report(fraction: float, broken: int) -> None:
                done = None if total is None else int(total * min(fraction, 1.0))
                bar.update(done, strain=fraction * final, broken=broken)

            res = virtual_test(
                web, test, material, strut=strut, strain=strain, steps=steps, frac=frac,
                load_node=node, pretension="none" if level is None else level, progress=report,
            )  # fmt: skip
        paths = res.save(web, out)
        for key, val in res.summary().items():
            typer.echo(f"{key}: {val:.6g}" if isinstance(val, float) else f"{key}: {val}")
        if res.curve.stopped:
            typer.echo(f"warning: the test stopped before final failure: {res.curve.stopped}")
        typer.echo("wrote " + ", ".join(str(p) for p in paths))
