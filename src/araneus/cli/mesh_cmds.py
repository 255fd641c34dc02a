"""CLI command ``araneus mesh``: a web file to a printable STL/3MF/OBJ mesh."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError


def parse_strut(text: str) -> float | dict[str, float] | str:
    """Parse ``--strut``: ``0.8`` (mm), ``radial=0.6,spiral=0.4,default=0.8`` or ``attr:NAME``."""

    text = text.strip()
    if text.startswith("attr:"):
        name = text[5:].strip()
        if not name:
            raise InputError("--strut attr: needs an edge attribute name, e.g. attr:diameter")
        return name
    if "=" in text:
        table: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            try:
                table[key.strip()] = float(value)
            except ValueError:
                raise InputError(f"--strut {part!r}: expected TYPE=DIAMETER in mm") from None
        return table
    try:
        return float(text)
    except ValueError:
        raise InputError(
            f"--strut {text!r}: expected a diameter in mm, TYPE=MM pairs, or attr:NAME"
        ) from None


#: Most facets around a tube; most triangles a mesh may get (binary STL: 50 bytes each).
MAX_SEGMENTS = 64
MAX_TRIANGLES = 30_000_000


def mesh_triangles(n_nodes: int, n_edges: int, segments: int) -> int:
    """Rough triangle count of a meshed web (an upper estimate: 4 s per strut, s^2 per
    joint; the default tent web, 16,536 nodes at 12 segments, gets 3.3 million)."""
    return 4 * segments * n_edges + segments**2 * n_nodes


def register(app: typer.Typer) -> None:
    """Add the ``mesh`` command to ``app``."""

    @app.command()
    def mesh(
        web_file: Path = typer.Argument(..., help="Input web file (any format araneus reads)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output mesh: .stl, .3mf or .obj."),
        strut: str = typer.Option(
            "0.8",
            "--strut",
            help="Strut diameter in mm; or per thread type 'radial=0.6,spiral=0.4,default=0.8';"
            " or 'attr:NAME' for an edge attribute of diameters in web units.",
        ),
        node: float | None = typer.Option(
            None, "--node", help="Node sphere diameter in mm (default 1.25 x local strut)."
        ),
        process: str = typer.Option("fdm", "--process", help="Printing process: fdm or resin."),
        scale: float = typer.Option(1.0, "--scale", help="Millimetres per web length unit."),
        segments: int = typer.Option(
            12, "--segments", help="Facets around each tube (3-64; cost grows as its square)."
        ),
        joint: str = typer.Option(
            "hull", "--joint", help="Node joints: hull (smooth, fast) or sphere (exact CSG)."
        ),
        base_plate: bool = typer.Option(
            False, "--base-plate", help="Add a slab under the lowest nodes."
        ),
        plate_thickness: float = typer.Option(2.0, "--plate-thickness", help="Slab mm."),
        report: Path | None = typer.Option(
            None, "--report", help="Write the printability report as JSON."
        ),
    ) -> None:
        """Turn a web into one watertight printable mesh and check it for a process.

        Example: araneus mesh web.json --strut 0.8 --node 1.2 --process fdm --scale 10
        --base-plate --out web.stl --report web_print.json
        """
        import json

        from .._progress import Progress
        from .._util import write_text_atomic
        from ..fabrication import build_mesh, export_mesh, get_process, mesh_format
        from ..io import read_web
        from . import _args as A

        mesh_format(out)  # fail on a bad suffix before the (long) build
        get_process(process)
        A.count(segments, "--segments", 3, MAX_SEGMENTS, "finer facets are below print resolution")
        A.number(scale, "--scale", 0.0, 1e6, lo_open=True, why="millimetres per web unit")
        A.optional_number(node, "--node", 0.0, 1e4, lo_open=True)
        A.number(plate_thickness, "--plate-thickness", 0.0, 1e4, lo_open=True)
        strut_spec = parse_strut(strut)
        A.out_file(out, inputs=[web_file])
        if report is not None:
            A.out_file(report, "--report", inputs=[web_file, out])
        with Progress(f"mesh: reading {web_file.name}", None) as bar:
            web = read_web(web_file)
            tris = mesh_triangles(web.n_nodes, web.n_edges, segments)
            if tris > MAX_TRIANGLES:
                raise InputError(
                    f"--segments {segments} on a web of {web.n_nodes:,} nodes and "
                    f"{web.n_edges:,} edges would make about {tris / 1e6:.0f} million "
                    f"triangles (limit {MAX_TRIANGLES / 1e6:.0f} million); use fewer segments"
                )
            bar.update(label=f"mesh: joining {web.n_edges:,} struts at {web.n_nodes:,} nodes")
            result = build_mesh(
                web,
                strut_spec,
                node,
                process=process,
                scale=scale,
                segments=segments,
                joint=joint,
                base_plate=base_plate,
                plate_thickness=plate_thickness,
            )
            bar.update(label=f"mesh: writing {out.name}")
            export_mesh(result.mesh, out)
        rep = result.report
        if report is not None:
            write_text_atomic(report, json.dumps(rep.as_dict(), indent=2) + "\n")
        sx, sy, sz = rep.size_mm
        typer.echo(
            f"wrote {out}: {rep.triangles} triangles, {rep.bodies} body(ies), "
            f"watertight {rep.watertight}, {sx:.1f} x {sy:.1f} x {sz:.1f} mm, "
            f"{rep.volume_mm3:.1f} mm^3, ~{rep.mass_g:.2f} g ({rep.process})"
        )
        for w in rep.warnings:
            typer.echo(f"warning: {w}")
        if report is not None:
            typer.echo(f"report {report}")
