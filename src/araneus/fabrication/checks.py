"""Printability checks: process presets, the report dataclass, and the geometric tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from ..errors import InputError


@dataclass(frozen=True)
class ProcessPreset:
    """Limits of a printing process (lengths in mm, density in g/cm^3)."""

    name: str
    min_strut_mm: float
    min_feature_mm: float
    density_g_cm3: float
    description: str


#: Known processes. FDM: 0.4 mm nozzle, PLA; a strut needs about two extrusion widths.
#: Resin: SLA/DLP/MSLA with standard photopolymer.
PROCESSES: dict[str, ProcessPreset] = {
    "fdm": ProcessPreset("fdm", 0.8, 0.4, 1.24, "FDM, 0.4 mm nozzle, PLA"),
    "resin": ProcessPreset("resin", 0.3, 0.1, 1.15, "resin (SLA/DLP), standard photopolymer"),
}


def get_process(name: str | ProcessPreset) -> ProcessPreset:
    """Look up a process preset by name (``"fdm"`` or ``"resin"``)."""
    if isinstance(name, ProcessPreset):
        return name
    try:
        return PROCESSES[str(name).lower()]
    except KeyError:
        raise InputError(f"unknown process {name!r}; valid: {', '.join(PROCESSES)}") from None


@dataclass
class PrintabilityReport:
    """What a printer will make of a mesh built by :func:`araneus.fabrication.build_mesh`.

    Lengths in mm, volume in mm^3, mass in g, angles in degrees. ``warnings`` lists every
    problem found in words; ``ok`` is True when there is none.
    """

    process: str
    min_strut_required_mm: float
    min_feature_required_mm: float
    n_struts: int
    n_nodes: int
    min_strut_diameter_mm: float
    max_strut_diameter_mm: float
    min_node_diameter_mm: float
    thin_struts: int
    tiny_edges: int
    sharp_angles: int
    min_angle_deg: float
    min_gap_mm: float | None
    narrow_gaps: int
    crossing_struts: int
    nodes_enlarged: int
    isolated_nodes_skipped: int
    graph_components: int
    bodies: int
    watertight: bool
    volume_mm3: float
    mass_g: float
    size_mm: tuple[float, float, float]
    triangles: int
    base_plate: bool
    joint: str = "sphere"
    boolean_nodes: int = 0
    boolean_struts: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no warning was raised."""
        return not self.warnings

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (adds ``ok``)."""
        d = asdict(self)
        d["size_mm"] = list(self.size_mm)
        d["ok"] = self.ok
        return d


def node_angles(pos: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angles (degrees) between every pair of struts meeting at a node.

    Returns
    -------
    angles : ndarray (P,)
        One entry per pair of edges sharing a node.
    node : ndarray (P,)
        The shared node of each pair.
    """
    d = pos[edges[:, 1]] - pos[edges[:, 0]]
    u = d / np.linalg.norm(d, axis=1, keepdims=True)
    node = np.concatenate([edges[:, 0], edges[:, 1]])
    dirs = np.concatenate([u, -u])
    order = np.argsort(node, kind="stable")
    node, dirs = node[order], dirs[order]
    out_a, out_n = [], []
    for s in range(1, len(node)):
        same = node[s:] == node[:-s]
        if not same.any():
            break
        i = np.flatnonzero(same)
        cos = np.clip(np.sum(dirs[i] * dirs[i + s], axis=1), -1.0, 1.0)
        out_a.append(np.degrees(np.arccos(cos)))
        out_n.append(node[i])
    if not out_a:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_a), np.concatenate(out_n)


def segment_distances(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Shortest distances between segments ``p0-p1`` and ``q0-q1`` (all (K, 3)), vectorised."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = np.sum(d1 * d1, axis=1)
    e = np.sum(d2 * d2, axis=1)
    f = np.sum(d2 * r, axis=1)
    c = np.sum(d1 * r, axis=1)
    b = np.sum(d1 * d2, axis=1)
    denom = a * e - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        # parallel segments: take the middle of their overlap (or 0 when none)
        ends = np.stack([-c, b - c], axis=1) / a[:, None]
        mid = np.clip((np.clip(ends.min(1), 0, 1) + np.clip(ends.max(1), 0, 1)) / 2, 0, 1)
        s = np.where(denom > 1e-12 * a * e, np.clip((b * f - c * e) / denom, 0, 1), mid)
        t = (b * s + f) / e
        s = np.where(t < 0, np.clip(-c / a, 0, 1), np.where(t > 1, np.clip((b - c) / a, 0, 1), s))
        t = np.clip(t, 0, 1)
    return np.linalg.norm(p0 + d1 * s[:, None] - q0 - d2 * t[:, None], axis=1), s, t


def strut_gaps(
    pos: np.ndarray, edges: np.ndarray, strut_d: np.ndarray, node_d: np.ndarray, reach: float
) -> np.ndarray:
    """Surface gaps (mm) between pairs of struts that share no node and lie within ``reach``.

    Negative gaps are struts that pass through each other without a joint. Pairs whose
    closest approach lies inside a node sphere of either strut (e.g. struts two hops apart
    across a very short edge) meet at a joint by design and are left out. Candidate pairs
    come from a k-d tree over points sampled along the edges, so the cost grows with the
    number of nearby pairs, not with E^2.
    """
    length = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    step = max(float(np.min(strut_d)), float(length.sum()) / 200_000.0)
    n_samp = np.maximum(np.ceil(length / step).astype(np.int64), 1) + 1
    owner = np.repeat(np.arange(len(edges)), n_samp)
    start = np.cumsum(n_samp) - n_samp
    frac = (np.arange(len(owner)) - start[owner]) / (n_samp[owner] - 1)
    pts = pos[edges[owner, 0]] + frac[:, None] * (pos[edges[owner, 1]] - pos[edges[owner, 0]])
    radius = step + float(np.max(strut_d)) + reach
    pairs = cKDTree(pts).query_pairs(radius, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros(0)
    ep = np.unique(np.sort(owner[pairs], axis=1), axis=0)
    ea, eb = edges[ep[:, 0]], edges[ep[:, 1]]
    share = (ea[:, :1] == eb).any(axis=1) | (ea[:, 1:] == eb).any(axis=1)
    ep, ea, eb = ep[~share], ea[~share], eb[~share]
    dist, s, t = segment_distances(pos[ea[:, 0]], pos[ea[:, 1]], pos[eb[:, 0]], pos[eb[:, 1]])
    gaps = dist - (strut_d[ep[:, 0]] + strut_d[ep[:, 1]]) / 2.0
    at_joint = _in_own_sphere(pos, ea, s, node_d) | _in_own_sphere(pos, eb, t, node_d)
    return gaps[(gaps < reach) & ~at_joint]


def _in_own_sphere(pos: np.ndarray, e: np.ndarray, s: np.ndarray, node_d: np.ndarray) -> np.ndarray:
    """Whether the point at parameter ``s`` on each edge lies inside one of its node spheres."""
    p = pos[e[:, 0]] + s[:, None] * (pos[e[:, 1]] - pos[e[:, 0]])
    d0 = np.linalg.norm(p - pos[e[:, 0]], axis=1)
    d1 = np.linalg.norm(p - pos[e[:, 1]], axis=1)
    return (d0 <= node_d[e[:, 0]] / 2.0) | (d1 <= node_d[e[:, 1]] / 2.0)
