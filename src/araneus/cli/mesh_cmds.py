"""CLI command ``araneus mesh``: a web file to a printable STL/3MF/OBJ mesh."""

from __future__ import annotations

from pathlib import Path

import typer


def parse_strut(text: str) -> float | dict[str, float] | str:
    """Parse ``--strut``: ``0.8`` (mm), ``radial=0.6,spiral=0.4,default=0.8`` or ``attr:NAME``."""
    from ..errors import InputError

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
        segments: int = typer.Option(12, "--segments", help="Facets around each tube."),
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

        from .._util import write_text_atomic
        from ..fabricate import build_mesh, export_mesh, get_process, mesh_format
        from ..io import read_web

        mesh_format(out)  # fail on a bad suffix before the (long) build
        get_process(process)
        web = read_web(web_file)
        result = build_mesh(
            web,
            parse_strut(strut),
            node,
            process=process,
            scale=scale,
            segments=segments,
            joint=joint,
            base_plate=base_plate,
            plate_thickness=plate_thickness,
        )
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
