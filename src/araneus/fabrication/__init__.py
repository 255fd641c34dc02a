"""Fabrication: from web to printable object (one watertight mesh, STL/3MF/OBJ).

>>> from araneus.fabrication import build_mesh, export_mesh
>>> result = build_mesh(web, strut=0.8, process="fdm")  # doctest: +SKIP
>>> export_mesh(result.mesh, "web.stl")  # doctest: +SKIP

:mod:`~araneus.fabrication.mesh` builds and exports the mesh (:func:`build_mesh`,
:func:`export_mesh`); :mod:`~araneus.fabrication.geometry` sizes struts and nodes and unions
them; :mod:`~araneus.fabrication.joints` makes convex-hull joints;
:mod:`~araneus.fabrication.checks` holds the process presets and printability checks.
"""

from __future__ import annotations

from .checks import PROCESSES, PrintabilityReport, ProcessPreset, get_process
from .mesh import JOINTS, MESH_FORMATS, MeshResult, build_mesh, export_mesh, mesh_format

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
