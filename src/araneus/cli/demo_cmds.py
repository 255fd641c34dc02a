"""``araneus demo``: the whole pipeline on the embedded default, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer


def stage_line(i: int, stage: str) -> str:
    """Progress label of stage ``i`` (0-based) of the demo: ``demo [i+1/N] name``."""
    from ..demo import STAGES

    return f"demo [{i + 1}/{len(STAGES)}] {stage}"


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command()
    def demo(
        quick: bool = typer.Option(False, "--quick", help="Sub-minute version (smaller sizes)."),
        out: Path = typer.Option(Path("araneus-demo"), "--out", "-o", help="Output folder."),
        seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
        weights: Path = typer.Option(
            None,
            "--weights",
            help="Folder with one checkpoint folder per model (default: packaged weights).",
        ),
        threads: int = typer.Option(
            None, "--threads", help="Torch CPU threads (1 is fastest on a busy machine)."
        ),
    ) -> None:
        """Build, sample, generate, assemble, mesh and test webs; write a report folder.

        Writes webs/, meshes/ (STL), mechanics/ (CSV + PNG), figures/, generation.csv,
        metrics.json, summary.json and a self-contained report.html to --out.
        """
        import sys

        from .._progress import Progress
        from ..demo import STAGES, DemoConfig, run_demo
        from . import _args as A

        A.seed(seed)
        if threads is not None:
            A.count(threads, "--threads", 1, 1024)
        A.out_dir(out)
        cfg = DemoConfig(
            quick=quick,
            seed=seed,
            out=str(out),
            weights_dir=None if weights is None else str(weights),
            threads=threads,
        )
        n = len(STAGES)
        with Progress("demo", n) as bar:

            def hook(i: int, stage: str) -> None:
                """Stage i (0-based) starts; i == n: all done."""
                if i >= n:
                    bar.update(n, label="demo: done")
                    return
                label = stage_line(i, stage)
                bar.update(i, label=label)
                if not bar.active:  # logs and pipes get one line per stage
                    print(label, file=sys.stderr, flush=True)

            result = run_demo(cfg, progress=hook)
        total = sum(result.timings.values())
        typer.echo(f"demo finished in {total:.1f} s; wrote {len(result.files)} files to {out}")
        typer.echo(f"open {out / 'report.html'}")
