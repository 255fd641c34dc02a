"""CLI commands on web files: ``araneus info`` and ``araneus convert``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, list):
        return "(" + ", ".join(_fmt(v) for v in x) + ")"
    return str(x)


def _print_info(s: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    r = s["read"]
    t = Table(
        title=escape(f"{r['path']}  [{r['format']}]"), show_header=False, title_justify="left"
    )
    t.add_column("what", style="bold")
    t.add_column("value")
    t.add_row("nodes", str(s["nodes"]))
    t.add_row("edges", str(s["edges"]))
    t.add_row("components", f"{s['components']} (largest {s['largest_component']} nodes)")
    t.add_row("isolated nodes", str(s["isolated_nodes"]))
    if s["degree"]:
        d = s["degree"]
        hist = "  ".join(f"{k}:{v}" for k, v in d["histogram"].items())
        t.add_row("degree", f"min {d['min']}  mean {d['mean']:.3f}  max {d['max']}")
        t.add_row("degree histogram", hist)
    if s["bbox"]:
        b = s["bbox"]
        t.add_row("bbox", f"{_fmt(b['lo'])} .. {_fmt(b['hi'])}  size {_fmt(b['size'])}")
    if s["edge_length"]:
        e = s["edge_length"]
        t.add_row("edge length", "  ".join(f"{k} {_fmt(v)}" for k, v in e.items()))
    if s["node_attrs"] or s["edge_attrs"]:
        t.add_row("attributes", f"node {s['node_attrs']}  edge {s['edge_attrs']}")
    t.add_row(
        "read quirks",
        f"{r['input_edges']} edge records; dropped {r['duplicates_dropped']} duplicates "
        f"({r['of_which_reverse_direction']} reverse-direction), "
        f"{r['self_loops_dropped']} self-loops",
    )
    for k, v in r.get("notes", {}).items():
        t.add_row(k.replace("_", " "), str(v))
    Console().print(t)


def register(app: typer.Typer) -> None:
    """Add ``info`` and ``convert`` to ``app``."""

    @app.command()
    def info(
        file: Path = typer.Argument(
            ..., help="Web file (.json .csv .graphml .mat .ply .obj .xyz)."
        ),
        format: str = typer.Option(
            None, "--format", "-f", help="Format name overriding the suffix."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Summarise a web file: sizes, components, degrees, bbox, edge lengths, read quirks."""
        from ..features import web_summary
        from ..io import read_web_report

        web, report = read_web_report(file, format)
        summary = web_summary(web, report)
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
        else:
            _print_info(summary)

    @app.command()
    def convert(
        src: Path = typer.Argument(..., metavar="IN", help="Input web file."),
        dst: Path = typer.Argument(..., metavar="OUT", help="Output web file."),
        format: str = typer.Option(
            None, "--format", "-f", help="Input format (overrides IN's suffix)."
        ),
        to: str = typer.Option(None, "--to", "-t", help="Output format (overrides OUT's suffix)."),
        drop_isolated: bool = typer.Option(
            False, "--drop-isolated", help="Remove nodes without edges."
        ),
    ) -> None:
        """Convert a web file to another format (canonicalising duplicate edges and self-loops)."""
        from ..io import format_for, read_web_report, write_web
        from . import _args as A

        A.out_file(dst, "OUT", inputs=[src])
        format_for(dst, to, "write")  # fail before reading a big input
        web, r = read_web_report(src, format, drop_isolated=drop_isolated)
        write_web(web, dst, to)
        typer.echo(
            f"{src} -> {dst}: {web.n_nodes} nodes, {web.n_edges} edges "
            f"(dropped {r.duplicates} duplicate edges, {r.self_loops} self-loops, "
            f"{r.isolated_dropped} isolated nodes)"
        )
