"""Hierarchical assembly: grow large web structures by joining pieces along design curves.

>>> from araneus.assembly import CurveSpec, assemble
>>> tower, report = assemble(CurveSpec("helix", ["radius=20", "pitch=180"]), piece, steps=80)
>>> report.as_dict()["stitches"], tower.n_components
(..., 1)

:mod:`~araneus.assembly.curves` samples curves at uniform arc length with rotation-minimising
frames; :mod:`~araneus.assembly.place` places pieces along them; :mod:`~araneus.assembly.join`
merges coincident nodes and stitches neighbouring pieces, chunk by chunk.
"""

from __future__ import annotations

from .curves import Curve
from .families import (
    CURVES,
    CircleParams,
    CurveSpec,
    HelixParams,
    LineParams,
    LorenzParams,
    ReferenceParams,
    SplineParams,
    lorenz_trajectory,
    read_points_csv,
)
from .pieces import Schedule
from .place import (
    ORIENTS,
    AssemblyReport,
    Placement,
    assemble,
    join_placement,
    plan_assembly,
)

__all__ = [
    "CURVES",
    "Curve",
    "CurveSpec",
    "HelixParams",
    "ReferenceParams",
    "LorenzParams",
    "CircleParams",
    "LineParams",
    "SplineParams",
    "lorenz_trajectory",
    "read_points_csv",
    "assemble",
    "plan_assembly",
    "join_placement",
    "Placement",
    "AssemblyReport",
    "ORIENTS",
    "Schedule",
]
