"""Evaluation metrics for generated webs.

- :func:`fidelity`: requested vs re-measured conditioning features (per-feature R^2, undefined
  with its reason when the requested values do not vary, relative errors, MAE; the
  reference's pooled R^2), and the scale-free :func:`orientation_shares`.
- :func:`distribution_mmd`: MMD^2 between two sets of webs over degree, clustering,
  graphlet-orbit, relative and absolute edge-length and orientation statistics;
  :func:`mmd_ratio` against a data baseline, guarded against a degenerate one.
- :func:`vun`: validity, and uniqueness, novelty and V.U.N. on topology (up to
  isomorphism) and separately on geometry (within a stated tolerance).
- :func:`structure_summary`: triangles (3-cycles) per web and leaf share.
- :func:`evaluate`: all of it at once, :func:`format_report` as a text table;
  :func:`load_generated` reads the folder ``araneus generate`` writes.
"""

from __future__ import annotations

from .distribution import REL_LOG_RANGE, SIGMAS, STATISTICS, distribution_mmd
from .evaluate import evaluate, requested_from_meta
from .fidelity import SHARE_NAMES, fidelity, orientation_shares, r2_score
from .folder import load_generated
from .geometry import GEOMETRY_TOL, first_geometries, novel_geometries, same_geometry
from .mmd import KERNELS, MMD_FLOOR, mmd2, mmd_ratio
from .stats import N_ORBITS, orbit_counts, stack_webs
from .structure import per_web_structure, structure_summary
from .table import format_report
from .topology import first_topologies, is_isomorphic, topology_hash, topology_hashes
from .vun import validity, vun, web_hash

__all__ = [
    "evaluate",
    "format_report",
    "load_generated",
    "requested_from_meta",
    "distribution_mmd",
    "mmd_ratio",
    "fidelity",
    "r2_score",
    "orientation_shares",
    "mmd2",
    "vun",
    "validity",
    "web_hash",
    "topology_hash",
    "topology_hashes",
    "is_isomorphic",
    "first_topologies",
    "same_geometry",
    "first_geometries",
    "novel_geometries",
    "structure_summary",
    "per_web_structure",
    "orbit_counts",
    "stack_webs",
    "STATISTICS",
    "SIGMAS",
    "REL_LOG_RANGE",
    "KERNELS",
    "MMD_FLOOR",
    "GEOMETRY_TOL",
    "SHARE_NAMES",
    "N_ORBITS",
]
