"""From web to printable object: tubes + node spheres -> one watertight mesh -> STL/3MF/OBJ.

Each thread (edge) becomes a tube, each node a sphere at least as thick as its thickest
strut; manifold3d's boolean union turns them into one closed, manifold solid, which is
converted to a :class:`trimesh.Trimesh` (millimetres) for checking and export. A
:class:`~araneus.fabrication.checks.PrintabilityReport` says what a chosen process (FDM or
resin) will make of it.

Example
-------
>>> result = build_mesh(web, strut=0.8, node=1.2, process="fdm", scale=10.0)
>>> result.report.warnings
[]
>>> export_mesh(result.mesh, "web.stl")
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_output
from ..errors import InputError
from ..web import WebGraph
from .checks import (
    PROCESSES,
    PrintabilityReport,
    ProcessPreset,
    get_process,
    node_angles,
    strut_gaps,
)
from .geometry import StrutSpec, csg_union, node_diameters, strut_diameters
from .joints import hull_union

#: Mesh file types by suffix.
MESH_FORMATS: dict[str, str] = {".stl": "stl", ".3mf": "3mf", ".obj": "obj"}

#: Node joint styles (see :func:`build_mesh`).
JOINTS: tuple[str, ...] = ("sphere", "hull")


@dataclass
class MeshResult:
    """A printable mesh and its printability report.

    Attributes
    ----------
    mesh
        ``trimesh.Trimesh`` in millimetres.
    report
        Checks against the chosen process.
    strut_diameters, node_diameters
        (E,) and (N,) diameters used, mm (0 for skipped isolated nodes).
    """

    mesh: Any
    report: PrintabilityReport
    strut_diameters: np.ndarray
    node_diameters: np.ndarray


def _check_number(value: float, name: str, *, positive: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or (positive and v <= 0):
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _base_plate(pos: np.ndarray, node_d: np.ndarray, thickness: float, margin: float) -> Any:
    """A slab under the lowest nodes, its top just above their centres (mm)."""
    import manifold3d as m3d

    live = node_d > 0
    lo = pos[live].min(axis=0) - node_d[live].max() / 2.0 - margin
    hi = pos[live].max(axis=0) + node_d[live].max() / 2.0 + margin
    z_low = pos[live, 2].min()
    embed = 0.2 * node_d[live][pos[live, 2] <= z_low + 1e-9].min() / 2.0
    top = z_low + embed
    size = (hi[0] - lo[0], hi[1] - lo[1], thickness)
    return m3d.Manifold.cube(size).translate((lo[0], lo[1], top - thickness))


def build_mesh(
    web: WebGraph,
    strut: StrutSpec = 0.8,
    node: float | None = None,
    *,
    process: str | ProcessPreset = "fdm",
    scale: float = 1.0,
    segments: int = 12,
    joint: str = "hull",
    base_plate: bool = False,
    plate_thickness: float = 2.0,
    plate_margin: float = 2.0,
    sharp_angle_deg: float = 20.0,
) -> MeshResult:
    """Turn a web into one watertight printable mesh (millimetres) and check it.

    Parameters
    ----------
    web
        Any web with at least one edge. Isolated nodes are skipped (and counted).
    strut
        Strut diameter: a number in mm, a mapping thread type -> mm (``"default"`` for the
        rest), or the name of an edge attribute holding diameters in web units.
    node
        Node sphere diameter in mm; raised to the thickest incident strut where smaller.
        ``None``: 1.25 x the thickest incident strut.
    process
        ``"fdm"`` or ``"resin"`` (see :data:`PROCESSES`), for the checks and the mass.
    scale
        Millimetres per web length unit (positions and attribute diameters are multiplied).
    segments
        Facets around each tube (>= 3) and along each sphere's circumference.
    joint
        ``"sphere"``: exact boolean union of tubes and node spheres. ``"hull"``: smooth
        joints (convex hull of the node sphere and short strut stubs) built directly, with
        the boolean union only for parts too close or too acute for that; much faster on
        large webs (see :mod:`araneus.fabrication.joints`).
    base_plate
        Add a slab under the lowest nodes (``plate_thickness`` mm thick, overhanging the
        web by ``plate_margin`` mm), unioned with the web.
    sharp_angle_deg
        Struts meeting at a node at a smaller angle are reported as sharp overlaps.

    Returns
    -------
    MeshResult
    """
    import trimesh

    if not isinstance(web, WebGraph):
        raise InputError(f"web must be a WebGraph, got {type(web).__name__}")
    if web.n_edges == 0:
        raise InputError("web has no edges: nothing to fabricate")
    preset = get_process(process)
    scale = _check_number(scale, "scale")
    if joint not in JOINTS:
        raise InputError(f"unknown joint {joint!r}; valid: {', '.join(JOINTS)}")
    segments = int(_check_number(segments, "segments"))
    if segments < 3:
        raise InputError(f"segments must be at least 3, got {segments}")
    sharp_angle_deg = _check_number(sharp_angle_deg, "sharp_angle_deg")
    pos = np.asarray(web.pos, dtype=np.float64) * scale
    strut_d = strut_diameters(web, strut, scale)
    node_d, n_enlarged = node_diameters(web, strut_d, node)
    extra = []
    if base_plate:
        thickness = _check_number(plate_thickness, "plate_thickness")
        margin = _check_number(plate_margin, "plate_margin", positive=False)
        if margin < 0:
            raise InputError(f"plate_margin must be >= 0, got {plate_margin!r}")
        extra.append(_base_plate(pos, node_d, thickness, margin))
    if joint == "sphere":
        solid = csg_union(pos, np.asarray(web.edges), strut_d, node_d, segments, extra)
        stats = {"fallback_nodes": 0, "fallback_struts": 0}
    else:
        solid, stats = hull_union(pos, np.asarray(web.edges), strut_d, node_d, segments, extra)
    out = solid.to_mesh()
    mesh = trimesh.Trimesh(
        np.asarray(out.vert_properties)[:, :3].astype(np.float64),
        np.asarray(out.tri_verts).astype(np.int64),
        process=False,
    )
    report = _report(web, pos, strut_d, node_d, n_enlarged, mesh, preset, sharp_angle_deg)
    report.base_plate = bool(base_plate)
    report.joint = joint
    report.boolean_nodes = stats["fallback_nodes"] if joint == "hull" else report.n_nodes
    report.boolean_struts = stats["fallback_struts"] if joint == "hull" else report.n_struts
    if base_plate:
        report.min_feature_required_mm = preset.min_feature_mm
    return MeshResult(mesh, report, strut_d, node_d)


def _report(
    web: WebGraph,
    pos: np.ndarray,
    strut_d: np.ndarray,
    node_d: np.ndarray,
    n_enlarged: int,
    mesh: Any,
    preset: ProcessPreset,
    sharp_deg: float,
) -> PrintabilityReport:
    edges = np.asarray(web.edges)
    length = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    angles, _ = node_angles(pos, edges)
    gaps = strut_gaps(pos, edges, strut_d, node_d, preset.min_feature_mm)
    isolated = int(np.count_nonzero(web.degrees == 0))
    live = node_d > 0
    watertight = bool(mesh.is_watertight)
    volume = float(mesh.volume) if watertight else float("nan")
    bodies = int(mesh.body_count)
    ext = mesh.extents if len(mesh.vertices) else np.zeros(3)
    narrow = gaps[gaps >= 0]
    rep = PrintabilityReport(
        process=preset.name,
        min_strut_required_mm=preset.min_strut_mm,
        min_feature_required_mm=preset.min_feature_mm,
        n_struts=int(len(edges)),
        n_nodes=int(np.count_nonzero(live)),
        min_strut_diameter_mm=float(strut_d.min()),
        max_strut_diameter_mm=float(strut_d.max()),
        min_node_diameter_mm=float(node_d[live].min()),
        thin_struts=int(np.count_nonzero(strut_d < preset.min_strut_mm)),
        tiny_edges=int(np.count_nonzero(length < strut_d)),
        sharp_angles=int(np.count_nonzero(angles < sharp_deg)),
        min_angle_deg=float(angles.min()) if len(angles) else 180.0,
        min_gap_mm=float(narrow.min()) if len(narrow) else None,
        narrow_gaps=int(len(narrow)),
        crossing_struts=int(np.count_nonzero(gaps < 0)),
        nodes_enlarged=n_enlarged,
        isolated_nodes_skipped=isolated,
        graph_components=int(web.drop_isolated().n_components),
        bodies=bodies,
        watertight=watertight,
        volume_mm3=volume,
        mass_g=volume * preset.density_g_cm3 / 1000.0,
        size_mm=tuple(float(v) for v in ext),
        triangles=int(len(mesh.faces)),
        base_plate=False,
    )
    rep.warnings = _warnings(rep, sharp_deg)
    return rep


def _warnings(r: PrintabilityReport, sharp_deg: float) -> list[str]:
    w = []
    if r.thin_struts:
        w.append(
            f"{r.thin_struts} strut(s) thinner than {r.min_strut_required_mm} mm, the minimum "
            f"for {r.process} (thinnest {r.min_strut_diameter_mm:.3g} mm)"
        )
    if r.tiny_edges:
        w.append(f"{r.tiny_edges} edge(s) shorter than their strut diameter")
    if r.sharp_angles:
        w.append(
            f"{r.sharp_angles} pair(s) of struts meet at less than {sharp_deg:g} degrees "
            f"(sharpest {r.min_angle_deg:.1f}): long overlaps, hard to print cleanly"
        )
    if r.narrow_gaps:
        w.append(
            f"{r.narrow_gaps} gap(s) between unjoined struts narrower than "
            f"{r.min_feature_required_mm} mm (narrowest {r.min_gap_mm:.3g} mm): they will fuse"
        )
    if r.crossing_struts:
        w.append(f"{r.crossing_struts} pair(s) of struts pass through each other without a node")
    if r.isolated_nodes_skipped:
        w.append(f"{r.isolated_nodes_skipped} isolated node(s) skipped")
    if r.bodies > 1:
        w.append(f"mesh has {r.bodies} separate bodies ({r.graph_components} web components)")
    if not r.watertight or not r.volume_mm3 > 0:
        w.append("mesh is not watertight with positive volume")
    return w


def mesh_format(path: str | os.PathLike, file_type: str | None = None) -> str:
    """Mesh file type (``"stl"``, ``"3mf"`` or ``"obj"``) for ``path`` or an explicit type."""
    dest = Path(path)
    if file_type is None:
        file_type = MESH_FORMATS.get(dest.suffix.lower())
        if file_type is None:
            raise InputError(
                f"out: unknown mesh suffix {dest.suffix!r} in {dest}; "
                f"valid: {', '.join(MESH_FORMATS)}"
            )
    file_type = str(file_type).lower().lstrip(".")
    if file_type not in MESH_FORMATS.values():
        raise InputError(f"file_type: unknown mesh format {file_type!r}; valid: stl, 3mf, obj")
    return file_type


def export_mesh(mesh: Any, path: str | os.PathLike, file_type: str | None = None) -> Path:
    """Write ``mesh`` as binary STL, 3MF or OBJ (chosen by suffix or ``file_type``), atomically.

    Parameters
    ----------
    mesh
        A ``trimesh.Trimesh`` (millimetres).
    path
        Output file; its suffix picks the format unless ``file_type`` is given.
    file_type
        ``"stl"``, ``"3mf"`` or ``"obj"``.

    Returns
    -------
    Path
        The written file.
    """
    import trimesh

    dest = Path(path)
    file_type = mesh_format(dest, file_type)
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise InputError("mesh must be a non-empty trimesh.Trimesh")
    with atomic_output(dest) as tmp:
        mesh.export(str(tmp), file_type=file_type)
    return dest


__all__ = [
    "JOINTS",
    "MESH_FORMATS",
    "PROCESSES",
    "MeshResult",
    "PrintabilityReport",
    "ProcessPreset",
    "build_mesh",
    "export_mesh",
    "get_process",
    "mesh_format",
]
