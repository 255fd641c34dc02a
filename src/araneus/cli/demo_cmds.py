"""``araneus demo``: the whole pipeline on the embedded default, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer


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
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from ..demo import STAGES, DemoConfig, run_demo

        cfg = DemoConfig(
            quick=quick,
            seed=seed,
            out=str(out),
            weights_dir=None if weights is None else str(weights),
            threads=threads,
        )
        console = Console(stderr=True)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("starting", total=len(STAGES))

            def hook(i: int, stage: str) -> None:
                label = f"{min(i + 1, len(STAGES))}. {stage}"
                bar.update(task, completed=i, description=label)
                if not console.is_terminal:  # logs and pipes get one line per stage
                    console.print(f"[{i}/{len(STAGES)}] {label}", highlight=False)

            result = run_demo(cfg, progress=hook)
        total = sum(result.timings.values())
        typer.echo(f"demo finished in {total:.1f} s; wrote {len(result.files)} files to {out}")
        typer.echo(f"open {out / 'report.html'}")
