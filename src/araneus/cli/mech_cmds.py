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
        strain: float = typer.Option(0.2, "--strain", help="Final nominal strain."),
        steps: int = typer.Option(50, "--steps", help="Displacement steps."),
        frac: float = typer.Option(0.05, "--frac", help="Grip slab thickness (fraction)."),
        node: int | None = typer.Option(None, "--node", help="Loaded node of point tests."),
        out: Path = typer.Option(Path("results"), "--out", help="Output folder."),
    ) -> None:
        """Run a virtual mechanical test to failure; write curve CSV/PNG, stress view, summary."""
        from ..io import read_web
        from ..mechanics.virtual import virtual_test
        from ._args import out_dir

        out_dir(out)  # fail before the (long) test on an output that cannot be written
        web = read_web(path)
        res = virtual_test(
            web, test, material, strut=strut, strain=strain, steps=steps, frac=frac, load_node=node
        )
        paths = res.save(web, out)
        for key, val in res.summary().items():
            typer.echo(f"{key}: {val:.6g}" if isinstance(val, float) else f"{key}: {val}")
        typer.echo("wrote " + ", ".join(str(p) for p in paths))
