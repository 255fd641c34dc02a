"""CLI commands ``araneus repair`` (scan-skeleton repair) and ``araneus analyze`` (statistics)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``repair`` and ``analyze`` to ``app``."""

    @app.command()
    def repair(
        src: Path = typer.Argument(..., metavar="IN", help="Input web file (scan skeleton)."),
        dst: Path = typer.Argument(..., metavar="OUT", help="Output web file."),
        report: Path = typer.Option(
            None, "--report", "-r", help="Write the repair report (JSON) here."
        ),
        settings: list[str] = typer.Option(
            [],
            "--set",
            "-s",
            help="Repair parameter key=value (repeatable), e.g. max_angle=25 min_component=20 "
            "simplify=true keep=largest; see docs/repair_and_analysis.md.",
        ),
        format: str = typer.Option(
            None, "--format", "-f", help="Input format (overrides IN's suffix)."
        ),
        to: str = typer.Option(None, "--to", "-t", help="Output format (overrides OUT's suffix)."),
    ) -> None:
        """Repair a fragmented scan skeleton: merge, bridge gaps along threads, keep fragments.

        Bridges only continue threads (no rungs between parallel threads, no crossings) and
        are marked with the edge attribute 'bridge' (kept by the araneus JSON format).
        """
        import dataclasses

        from .._util import apply_overrides, write_text_atomic
        from ..io import format_for, read_web, write_web
        from ..repair import RepairConfig
        from ..repair import repair as repair_web
        from . import _args as A

        cfg = apply_overrides(RepairConfig(), settings, "repair")
        A.out_file(dst, "OUT", inputs=[src])
        format_for(dst, to, "write")  # fail before the work on a bad output name
        if report is not None:
            A.out_file(report, "--report", inputs=[src, dst])
        web = read_web(src, format)
        fixed, rep = repair_web(web, **dataclasses.asdict(cfg))
        write_web(fixed, dst, to)
        if report is not None:
            doc = {"input": str(src), "output": str(dst), **rep.as_dict()}
            write_text_atomic(report, json.dumps(doc, indent=2) + "\n")
        b, a = rep.before, rep.after
        typer.echo(
            f"{src} -> {dst}: {b['nodes']} -> {a['nodes']} nodes, {b['edges']} -> {a['edges']} "
            f"edges, {b['components']} -> {a['components']} components"
        )
        typer.echo(
            f"  merged {rep.nodes_merged} nodes, bridged {rep.bridges_added} of "
            f"{rep.thread_ends} thread ends (gap <= {rep.bridge_dist:.4g}; bridges marked "
            f"'bridge', median {rep.bridge_length_ratio:.2f}x the median segment), "
            f"contracted {rep.chains_contracted} chains, dropped {rep.components_dropped} "
            f"components ({rep.nodes_dropped} nodes, {rep.bridges_dropped} bridges)"
        )

    @app.command()
    def analyze(
        file: Path = typer.Argument(..., help="Web file to analyse."),
        out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
        format: str = typer.Option(
            None, "--format", "-f", help="Input format (overrides the suffix)."
        ),
        bins: int = typer.Option(20, "--bins", help="Histogram bins (edge length, orientation)."),
        voxels: int = typer.Option(4, "--voxels", help="Heterogeneity-map cells per axis."),
        figures: bool = typer.Option(
            True, "--figures/--no-figures", help="Write the PNG figures too."
        ),
    ) -> None:
        """Structural statistics of a web: stats.json plus degree/length/orientation/3-D PNGs."""
        from .._util import write_text_atomic
        from ..features import web_statistics
        from ..io import read_web
        from . import _args as A

        A.out_dir(out)
        A.count(bins, "--bins", 1, 10_000)
        A.count(voxels, "--voxels", 1, 64, "cells grow as its cube")
        web = read_web(file, format)
        stats = web_statistics(web, bins=bins, voxels=voxels)
        doc = {"input": str(file), **stats}
        write_text_atomic(out / "stats.json", json.dumps(doc, indent=2) + "\n")
        written = [out / "stats.json"]
        if figures:
            from ..report.figures import write_analysis_figures

            written += list(write_analysis_figures(web, out, stats, title=file.name).values())
        c, d = stats["components"], stats["degree"]
        typer.echo(
            f"{file}: {web.n_nodes} nodes, {web.n_edges} edges, {c['components']} components, "
            f"mean degree {d['mean']:.3f}, cycle rank {stats['cycle_rank']}, "
            f"clustering {stats['clustering']['average']:.3f}"
        )
        for p in written:
            typer.echo(f"  wrote {p}")
