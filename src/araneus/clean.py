"""Repair of scanned web skeletons: merge, bridge gaps, simplify chains, filter components.

Laser-scan skeletons of real webs are fragmented: threads break wherever the imaging loses
them, leaving thousands of degree-1 thread ends a short distance from the continuing piece.
:func:`repair` puts such a skeleton back together in five vectorised steps:

1. **merge** nodes closer than ``merge_tol`` (transitively, cKDTree + connected components);
   zero-length edges collapse with them and edges that become duplicates are dropped;
2. **bridge** gaps: every degree-1 thread end may gain one new edge to a node of *another*
   fragment within ``bridge_dist``; candidates are scored by distance times an angle
   penalty that favours continuing along the thread direction, and are accepted by a greedy
   matching in which each thread end is used at most once (as source or as target);
3. optionally **simplify** degree-2 chains whose interior deviates less than
   ``simplify_tol`` from the straight segment between the chain's two ends;
4. **filter** components: drop those with fewer than ``min_component`` nodes, then keep the
   largest (``keep="largest"``) or all of them.

Tolerances left at ``None`` default to multiples of the web's median edge length ``h``
(:data:`DEFAULT_FACTORS`), so the same call works in scan voxels or in millimetres.

:func:`simulate_breaks` (from :mod:`araneus.damage`, re-exported here) does the opposite:
it cuts a connected web into fragments the way a scan does, for tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from ._matching import greedy_matching, hops_exceed
from .damage import simulate_breaks
from .errors import ConfigError, InputError
from .features import web_summary
from .web import WebGraph, canonicalize_edges

#: Default tolerances as multiples of the median edge length h. In a real 10k-node scan
#: skeleton the gap from a thread end to the nearest other fragment is ~1.2 h at the median
#: and ~2.5 h at the 90th percentile; 3 h catches those gaps, not distant debris.
DEFAULT_FACTORS: dict[str, float] = {
    "merge_tol": 0.1,
    "bridge_dist": 3.0,
    "simplify_tol": 0.2,
}

#: Upper bound of ``loop_hops`` (the hop-reachability check grows with it).
MAX_LOOP_HOPS = 64


@dataclass(frozen=True)
class RepairConfig:
    """Parameters of :func:`repair` (see there); validated on construction."""

    # Optional[] (not "X | None") so that _util.apply_overrides parses "--set k=v" values
    merge_tol: Optional[float] = None  # noqa: UP045
    bridge_dist: Optional[float] = None  # noqa: UP045
    max_angle: float = 120.0
    angle_weight: float = 1.0
    simplify: bool = False
    simplify_tol: Optional[float] = None  # noqa: UP045
    min_component: int = 2
    keep: str = "largest"
    relative: bool = False
    mark_bridges: bool = False
    loop_hops: Optional[int] = 6  # noqa: UP045

    def __post_init__(self) -> None:
        for name in ("merge_tol", "bridge_dist", "simplify_tol"):
            v = getattr(self, name)
            if v is not None and (not np.isfinite(v) or v < 0):
                raise ConfigError(f"repair parameter {name} must be finite and >= 0, got {v}")
        if not (np.isfinite(self.max_angle) and 0 <= self.max_angle <= 180):
            raise ConfigError(
                f"repair parameter max_angle must be in [0, 180] degrees, got {self.max_angle}"
            )
        if not (np.isfinite(self.angle_weight) and self.angle_weight >= 0):
            raise ConfigError(
                f"repair parameter angle_weight must be finite and >= 0, got {self.angle_weight}"
            )
        if isinstance(self.min_component, bool) or int(self.min_component) != self.min_component:
            raise ConfigError(
                f"repair parameter min_component must be an integer, got {self.min_component}"
            )
        if self.min_component < 1:
            raise ConfigError(
                f"repair parameter min_component must be >= 1, got {self.min_component}"
            )
        if self.loop_hops is not None and (
            isinstance(self.loop_hops, bool)
            or int(self.loop_hops) != self.loop_hops
            or not 1 <= self.loop_hops <= MAX_LOOP_HOPS
        ):
            raise ConfigError(
                f"repair parameter loop_hops must be an integer in [1, {MAX_LOOP_HOPS}] or None, got {self.loop_hops}"
            )
        if self.keep not in ("largest", "all"):
            raise ConfigError(
                f"repair parameter keep must be 'largest' or 'all', got {self.keep!r}"
            )


@dataclass
class RepairReport:
    """What :func:`repair` did: resolved tolerances, counts of every action, before/after stats.

    Lengths are in the web's own units; ``scale`` is the median edge length h of the input.
    """

    scale: float
    merge_tol: float
    bridge_dist: float
    simplify_tol: float | None
    nodes_merged: int = 0
    edges_collapsed: int = 0
    duplicate_edges_dropped: int = 0
    thread_ends: int = 0
    bridge_candidates: int = 0
    bridges_added: int = 0
    bridge_length_mean: float = 0.0
    bridge_length_max: float = 0.0
    chains_contracted: int = 0
    nodes_simplified: int = 0
    components_dropped: int = 0
    nodes_dropped: int = 0
    edges_dropped: int = 0
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary of every field."""
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------- repair
def repair(
    web: WebGraph,
    *,
    merge_tol: float | None = None,
    bridge_dist: float | None = None,
    max_angle: float = 120.0,
    angle_weight: float = 1.0,
    simplify: bool = False,
    simplify_tol: float | None = None,
    min_component: int = 2,
    keep: str = "largest",
    relative: bool = False,
    mark_bridges: bool = False,
    loop_hops: int | None = 6,
) -> tuple[WebGraph, RepairReport]:
    """Repair a fragmented scan skeleton.

    Parameters
    ----------
    web
        Input skeleton (at least one edge of positive length).
    merge_tol
        Nodes closer than this are merged (length units). Default 0.1 h (h = median edge
        length); 0 merges only coincident nodes.
    bridge_dist
        Largest gap bridged from a degree-1 thread end to another fragment. Default 3 h;
        0 disables bridging.
    max_angle
        Largest angle (degrees) between the thread's outward direction at the end and the
        bridge; 180 allows any direction.
    angle_weight
        Score of a bridge = ``d * (1 + angle_weight * (1 - cos))`` where ``cos`` is the
        alignment with the thread direction (averaged with the target's when the target is
        itself a thread end facing back). 0 = pure nearest neighbour.
    simplify
        Contract degree-2 chains that are straight within ``simplify_tol`` (default 0.2 h)
        into single edges.
    min_component
        Components with fewer nodes are dropped (>= 1).
    keep
        ``"largest"`` keeps only the largest component, ``"all"`` keeps every component
        that passes ``min_component``.
    relative
        If True, ``merge_tol``, ``bridge_dist`` and ``simplify_tol`` are given as multiples
        of h instead of absolute lengths.
    mark_bridges
        Add a boolean edge attribute ``"bridged"`` (True for edges added by bridging).
    loop_hops
        A thread end may also be bridged to a node of its *own* fragment when the two are
        more than ``loop_hops`` segments apart along the web (a break inside a cyclic
        fragment, which leaves it connected around the mesh); nearer nodes of the own
        fragment (the thread itself) are never bridge targets. ``None`` = bridge only to
        other fragments.

    Returns
    -------
    (WebGraph, RepairReport)
        The repaired web (node/edge attributes carried along; a bridge copies the edge
        attributes of the thread it continues) and the report of what was done.
    """
    cfg = RepairConfig(
        merge_tol, bridge_dist, max_angle, angle_weight, simplify, simplify_tol,
        min_component, keep, relative, mark_bridges, loop_hops,
    )  # fmt: skip
    if not isinstance(web, WebGraph):
        raise InputError(f"repair expects a WebGraph, got {type(web).__name__}")
    if web.n_nodes == 0:
        raise InputError("cannot repair an empty web (no nodes)")
    lengths = web.edge_lengths[web.edge_lengths > 0]
    if len(lengths) == 0:
        raise InputError("cannot repair a web without edges of positive length (no scale)")
    h = float(np.median(lengths))
    report = RepairReport(
        scale=h,
        merge_tol=_resolve(cfg.merge_tol, "merge_tol", h, cfg.relative),
        bridge_dist=_resolve(cfg.bridge_dist, "bridge_dist", h, cfg.relative),
        simplify_tol=_resolve(cfg.simplify_tol, "simplify_tol", h, cfg.relative)
        if cfg.simplify
        else None,
        before=web_summary(web),
    )
    if cfg.mark_bridges:
        web = web.replace(
            edge_attrs={**web.edge_attrs, "bridged": np.zeros(web.n_edges, dtype=bool)}
        )
    web = _merge_step(web, report)
    web = _bridge_step(web, report, cfg)
    if cfg.simplify:
        web = _simplify_step(web, report)
    web = _component_step(web, report, cfg)
    done = {k: v for k, v in report.as_dict().items() if k not in ("before", "after")}
    web = web.replace(meta={**web.meta, "repair": done})  # never mutate the caller's web
    report.after = web_summary(web)
    return web, report


def _resolve(value: float | None, name: str, h: float, relative: bool) -> float:
    if value is None:
        return DEFAULT_FACTORS[name] * h
    return float(value) * h if relative else float(value)


def _merge_step(web: WebGraph, report: RepairReport) -> WebGraph:
    """Merge nodes within ``report.merge_tol``; count collapsed and duplicate edges."""
    n = web.n_nodes
    pairs = cKDTree(web.pos).query_pairs(report.merge_tol, output_type="ndarray")
    if len(pairs) == 0:
        return web
    g = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    nc, labels = csgraph.connected_components(g, directed=False)
    cnt = np.bincount(labels, minlength=nc).astype(np.float64)
    pos = np.stack([np.bincount(labels, web.pos[:, d], nc) for d in range(3)], axis=1)
    pos /= cnt[:, None]
    first = np.full(nc, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    e, keep, canon = canonicalize_edges(labels[web.edges])
    report.nodes_merged = n - nc
    report.edges_collapsed = canon.self_loops
    report.duplicate_edges_dropped = canon.duplicates
    return WebGraph(
        pos,
        e,
        {k: v[first] for k, v in web.node_attrs.items()},
        {k: v[keep] for k, v in web.edge_attrs.items()},
        web.meta,
    )


def _thread_directions(web: WebGraph, ends: np.ndarray) -> np.ndarray:
    """(m, 3) unit outward thread directions at degree-1 nodes ``ends``.

    The direction is taken from two segments back when the neighbour is a degree-2 node
    (less sensitive to a noisy last segment), else from the last segment.
    """
    a = web.adjacency
    deg = web.degrees
    n1 = a.indices[a.indptr[ends]]
    ref = n1.copy()
    two = deg[n1] == 2
    if np.any(two):
        s = a.indptr[n1[two]]
        c0, c1 = a.indices[s], a.indices[s + 1]
        ref[two] = np.where(c0 == ends[two], c1, c0)
    u = web.pos[ends] - web.pos[ref]
    norm = np.linalg.norm(u, axis=1, keepdims=True)
    return np.divide(u, norm, out=np.zeros_like(u), where=norm > 0)


def _bridge_candidates(
    web: WebGraph, ends: np.ndarray, u: np.ndarray, cfg: RepairConfig, dist: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scored candidate bridges (source end index into ``ends``, target node, score)."""
    comp = web.component_labels
    deg = web.degrees
    sdm = cKDTree(web.pos[ends]).sparse_distance_matrix(
        cKDTree(web.pos), dist, output_type="ndarray"
    )
    ia, b, d = sdm["i"].astype(np.int64), sdm["j"].astype(np.int64), sdm["v"]
    ok = (deg[b] > 0) & (d > 0)
    same = comp[ends[ia]] == comp[b]
    if cfg.loop_hops is None:
        ok &= ~same
    else:
        sel = np.flatnonzero(ok & same)
        ok[sel] = hops_exceed(web, ends[ia[sel]], b[sel], cfg.loop_hops)
    ia, b, d = ia[ok], b[ok], d[ok]
    v = (web.pos[b] - web.pos[ends[ia]]) / d[:, None]
    cos_a = np.einsum("ij,ij->i", u[ia], v)
    ok = cos_a >= np.cos(np.radians(cfg.max_angle)) - 1e-12
    ia, b, d, v, cos = ia[ok], b[ok], d[ok], v[ok], cos_a[ok]
    end_index = np.full(web.n_nodes, -1, dtype=np.int64)
    end_index[ends] = np.arange(len(ends))
    jb = end_index[b]
    tgt_end = jb >= 0
    cos_b = -np.einsum("ij,ij->i", u[jb[tgt_end]], v[tgt_end])
    cos[tgt_end] = 0.5 * (cos[tgt_end] + cos_b)
    score = d * (1.0 + cfg.angle_weight * (1.0 - cos))
    return ia, b, score


def _bridge_step(web: WebGraph, report: RepairReport, cfg: RepairConfig) -> WebGraph:
    """Add at most one bridge per degree-1 thread end to another fragment."""
    deg = web.degrees
    ends = np.flatnonzero(deg == 1)
    report.thread_ends = int(len(ends))
    if report.bridge_dist <= 0 or len(ends) == 0:
        return web
    u = _thread_directions(web, ends)
    ia, b, score = _bridge_candidates(web, ends, u, cfg, report.bridge_dist)
    report.bridge_candidates = int(len(ia))
    if len(ia) == 0:
        return web
    end_index = np.full(web.n_nodes, -1, dtype=np.int64)
    end_index[ends] = np.arange(len(ends))
    acc = greedy_matching(ia, end_index[b], score, len(ends))
    src, dst = ends[ia[acc]], b[acc]
    new = np.sort(np.stack([src, dst], axis=1), axis=1)
    # the incident edge of each degree-1 source: its attributes are copied onto the bridge
    inc = np.zeros(web.n_nodes, dtype=np.int64)
    inc[web.edges[:, 0]] = np.arange(web.n_edges)
    inc[web.edges[:, 1]] = np.arange(web.n_edges)
    src_edge = inc[src]
    edge_attrs = {}
    for key, val in web.edge_attrs.items():
        extra = val[src_edge]
        if key == "bridged":
            extra = np.ones(len(src), dtype=bool)
        edge_attrs[key] = np.concatenate([val, extra])
    e, keep, _ = canonicalize_edges(np.concatenate([web.edges, new]))
    blen = np.linalg.norm(web.pos[src] - web.pos[dst], axis=1)
    report.bridges_added = int(len(src))
    report.bridge_length_mean = float(blen.mean()) if len(blen) else 0.0
    report.bridge_length_max = float(blen.max()) if len(blen) else 0.0
    return WebGraph(
        web.pos, e, web.node_attrs, {k: v[keep] for k, v in edge_attrs.items()}, web.meta
    )


def _chain_deviation(
    pos: np.ndarray,
    interior: np.ndarray,
    lab: np.ndarray,
    a_node: np.ndarray,
    b_node: np.ndarray,
    nc: int,
) -> np.ndarray:
    """(nc,) largest distance of each chain's interior nodes from the segment between its ends.

    ``interior`` lists the interior nodes, ``lab`` maps nodes to chain labels and
    ``a_node``/``b_node`` (nc,) are each chain's end nodes; chains without interior get 0.
    """
    c = lab[interior]
    p0, p1 = pos[a_node[c]], pos[b_node[c]]
    seg = p1 - p0
    t = np.einsum("ij,ij->i", pos[interior] - p0, seg)
    t = np.clip(t / np.maximum(np.einsum("ij,ij->i", seg, seg), 1e-300), 0.0, 1.0)
    dev = np.linalg.norm(pos[interior] - (p0 + t[:, None] * seg), axis=1)
    maxdev = np.zeros(nc)
    np.maximum.at(maxdev, c, dev)
    return maxdev


def _simplify_step(web: WebGraph, report: RepairReport) -> WebGraph:
    """Contract degree-2 chains that are straight within ``report.simplify_tol``."""
    n, e = web.n_nodes, web.edges
    d2 = web.degrees == 2
    if "anchor" in web.node_attrs:
        d2 &= ~web.node_attrs["anchor"].astype(bool)
    if not d2.any():
        return web
    inner = d2[e[:, 0]] & d2[e[:, 1]]
    term = d2[e[:, 0]] ^ d2[e[:, 1]]
    g = sp.coo_matrix((np.ones(int(inner.sum())), (e[inner, 0], e[inner, 1])), shape=(n, n))
    nc, lab = csgraph.connected_components(g, directed=False)
    tid = np.flatnonzero(term)
    t_in = np.where(d2[e[tid, 0]], e[tid, 0], e[tid, 1])
    t_out = np.where(d2[e[tid, 0]], e[tid, 1], e[tid, 0])
    order = np.argsort(lab[t_in], kind="stable")
    tid, t_in, t_out = tid[order], t_in[order], t_out[order]
    counts = np.bincount(lab[t_in], minlength=nc)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ok = counts == 2  # chains (cycles of degree-2 nodes have no terminal edges)
    a_node = np.where(ok, t_out[np.minimum(start, len(t_out) - 1)], -1)
    b_node = np.where(ok, t_out[np.minimum(start + 1, len(t_out) - 1)], -1)
    first_edge = np.where(ok, tid[np.minimum(start, len(tid) - 1)], -1)
    ok &= a_node != b_node
    interior = np.flatnonzero(d2 & ok[lab])
    ok &= _chain_deviation(web.pos, interior, lab, a_node, b_node, nc) <= report.simplify_tol
    # never create an edge that exists already, nor the same new edge twice
    lo, hi = np.minimum(a_node, b_node), np.maximum(a_node, b_node)
    key = lo * n + hi
    ok &= ~np.isin(key, e[:, 0] * n + e[:, 1])
    cand = np.flatnonzero(ok)
    _, uniq = np.unique(key[cand], return_index=True)
    chosen = cand[np.sort(uniq)]
    if len(chosen) == 0:
        return web
    contracted = np.zeros(nc, dtype=bool)
    contracted[chosen] = True
    removed = d2 & contracted[lab]
    keep_e = ~(removed[e[:, 0]] | removed[e[:, 1]])
    new_e = np.stack([lo[chosen], hi[chosen]], axis=1)
    src = np.concatenate([np.flatnonzero(keep_e), first_edge[chosen]])
    full = WebGraph(
        web.pos,
        np.concatenate([e[keep_e], new_e]),
        web.node_attrs,
        {k: v[src] for k, v in web.edge_attrs.items()},
        web.meta,
    )
    report.chains_contracted = int(len(chosen))
    report.nodes_simplified = int(removed.sum())
    return full.subgraph(~removed)


def _component_step(web: WebGraph, report: RepairReport, cfg: RepairConfig) -> WebGraph:
    """Drop small components; keep the largest or all remaining ones."""
    sizes = web.component_sizes()
    keep_c = sizes >= cfg.min_component
    if cfg.keep == "largest":
        keep_c = np.zeros(len(sizes), dtype=bool)
        keep_c[int(np.argmax(sizes))] = True  # kept even if below min_component
    mask = keep_c[web.component_labels]
    report.components_dropped = int(len(sizes) - keep_c.sum())
    report.nodes_dropped = int(web.n_nodes - mask.sum())
    out = web.subgraph(mask) if report.nodes_dropped else web
    report.edges_dropped = web.n_edges - out.n_edges
    return out


__all__ = [
    "DEFAULT_FACTORS",
    "RepairConfig",
    "RepairReport",
    "repair",
    "simulate_breaks",
    "web_summary",
]
