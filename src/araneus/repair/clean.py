"""Repair of scanned web skeletons: merge, bridge gaps, simplify chains, filter components.

Laser-scan skeletons of real webs are fragmented: threads break wherever the imaging loses
them, leaving thousands of degree-1 thread ends a short distance from the continuing piece.
:func:`repair` puts such a skeleton back together without inventing threads, in four
vectorised steps:

1. **merge** nodes closer than ``merge_tol`` (transitively, cKDTree + connected components);
   zero-length edges collapse with them and edges that become duplicates are dropped;
2. **bridge** gaps, only along the thread: a degree-1 thread end may gain one new edge that
   leaves within ``max_angle`` of the thread's own direction and spans at most
   ``gap_factor`` local segment lengths, to a thread end facing back along the same line,
   to a node from which its line continues, onto a thread it is aimed at (a T-junction),
   or onto the stub of a junction that lost its through-thread; rungs between parallel
   threads and bridges passing close to other threads are refused (see
   :mod:`araneus.repair._bridge`). Ends whose two best targets cannot be told apart stay open,
   as do ends whose best bridge a thread passing in its way hides (no weaker guess instead);
   the rest are matched greedily, best first, each thread end the source of at most one
   bridge (:mod:`araneus.repair._matching`). A second round sees the first round's bridges (a
   junction that lost two edges is mended in two steps). Bridges are marked
   ``edge_attrs["bridge"] = 1``;
3. optionally **simplify** degree-2 chains whose interior deviates less than
   ``simplify_tol`` from the straight segment between the chain's two ends;
4. **filter** components: keep every component of at least ``min_component`` nodes
   (``keep="all"``, the default) or only the largest (``keep="largest"``).

Tolerances left at ``None`` default to multiples of the web's median edge length ``h``
(:data:`DEFAULT_FACTORS`), so the same call works in scan voxels or in millimetres; the
bridging limits are multiples of each thread end's *local* segment length.

:func:`simulate_breaks` (from :mod:`araneus.repair.damage`, re-exported here) does the
opposite: it cuts a connected web into fragments the way a scan does, for tests and
benchmarks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from ..errors import ConfigError, InputError
from ..features import web_summary
from ..web import WebGraph, canonicalize_edges
from ._bridge import BridgeRules, bridge_candidates
from ._matching import prune_dangling, select_bridges
from .damage import simulate_breaks

#: Default tolerances as multiples of the median edge length h. In a real 10k-node scan
#: skeleton the gap from a thread end to the nearest other fragment is ~1.2 h at the median
#: and ~2.5 h at the 90th percentile; 6 h is only an outer cap: the local ``gap_factor``
#: (in local segment lengths) limits bridges.
DEFAULT_FACTORS: dict[str, float] = {
    "merge_tol": 0.1,
    "bridge_dist": 6.0,
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
    gap_factor: float = 6.0
    max_angle: float = 30.0
    max_offset: float = 0.75
    hit_angle: float = 45.0
    clearance: float = 0.25
    angle_weight: float = 1.0
    simplify: bool = False
    simplify_tol: Optional[float] = None  # noqa: UP045
    min_component: int = 10
    keep: str = "all"
    relative: bool = False
    loop_hops: Optional[int] = 3  # noqa: UP045

    def __post_init__(self) -> None:
        for name in ("merge_tol", "bridge_dist", "simplify_tol"):
            v = getattr(self, name)
            if v is not None and (not np.isfinite(v) or v < 0):
                raise ConfigError(f"repair parameter {name} must be finite and >= 0, got {v}")
        for name, hi in (("max_angle", 90.0), ("hit_angle", 90.0)):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0 <= v <= hi):
                raise ConfigError(f"repair parameter {name} must be in [0, {hi:g}] degrees, got {v}")
        for name in ("gap_factor", "max_offset", "clearance", "angle_weight"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ConfigError(f"repair parameter {name} must be finite and >= 0, got {v}")
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
    ``bridges_added`` and the bridge lengths count only bridges in the final web;
    ``bridges_dropped`` counts bridges made but lost with components that were dropped.
    ``bridge_length_ratio`` is the median bridge length over the median edge length of the
    repaired web (1 means bridges look like ordinary segments).
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
    bridges_dropped: int = 0
    bridge_length_mean: float = 0.0
    bridge_length_max: float = 0.0
    bridge_length_ratio: float = 0.0
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
    gap_factor: float = 6.0,
    max_angle: float = 30.0,
    max_offset: float = 0.75,
    hit_angle: float = 45.0,
    clearance: float = 0.25,
    angle_weight: float = 1.0,
    simplify: bool = False,
    simplify_tol: float | None = None,
    min_component: int = 10,
    keep: str = "all",
    relative: bool = False,
    loop_hops: int | None = 3,
) -> tuple[WebGraph, RepairReport]:
    """Repair a fragmented scan skeleton without inventing threads.

    Parameters
    ----------
    web
        Input skeleton (at least one edge of positive length).
    merge_tol
        Nodes closer than this are merged (length units). Default 0.1 h (h = median edge
        length); 0 merges only coincident nodes.
    bridge_dist
        Outer cap on the length of a bridge. Default 6 h; 0 disables bridging.
    gap_factor
        A bridge spans at most this many *local* segment lengths (the median length of the
        10 edges nearest the thread end): end-to-end bridges ``gap_factor``, bridges onto
        a node the line continues from 2/3 of it (2 local lengths from a weak tangent),
        T-hits 2.5 local lengths.
    max_angle
        Half-angle (degrees) of the cone around the thread's outward direction that a
        bridge must leave in (widened for gaps shorter than a segment by the angle a jitter
        of a quarter segment subtends; 5 degrees more for two facing ends, 30 more for a
        weak tangent); an end-to-end bridge must also lie in the target end's cone, a T-hit
        within ``max_angle`` itself.
    max_offset
        Largest sideways offset, in local segment lengths, of the target from the line of
        the thread (for end-to-end bridges: from either end's line); keeps bridges off
        neighbouring parallel threads. Bridges onto nodes have tighter limits growing with
        the gap (``0.3 + 0.25 s`` for both lines of a continuation, ``0.2 + 0.15 s`` for
        the end's line of a T-hit, ``0.25 + 0.2 s`` where no other thread passes within one
        local length of the T-hit; ``s`` the gap in local lengths), capped by this value.
    hit_angle
        A T-hit (a bridge onto a node the thread does not continue from) is refused where a
        thread at that node runs back towards the end within ``hit_angle`` degrees of the
        bridge (the bridge would double it); a continuation where one does within 60.
    clearance
        A bridge must keep this many local segment lengths away from every edge it does not
        touch, and from every other bridge (no crossings, no ladders); 0.8 of it from the
        nodes next to its target that lie between the two (it would run along the target's
        thread). Two facing ends keep 0.4 of it from threads running alongside and may
        cross a steeper thread none of whose nodes lies within 0.8 of it. An end whose
        best-ranked bridge is refused only for a thread passing in its way (no node near
        it) stays open rather than take a weaker one.
    angle_weight
        Score of a bridge = ``s + angle_weight * (misfit + penalty)``: ``s`` the gap and
        ``misfit`` the sideways offset of the far point from the line(s), both in local
        lengths (the mean of both lines where there are two); ``penalty`` 0.3 for a T-hit
        and 0.6 for a T-hit onto a thread end. The best-scoring bridges are taken first,
        two sure facing ends with a bonus of 2. 0 = nearest first.
    simplify
        Contract degree-2 chains that are straight within ``simplify_tol`` (default 0.2 h)
        into single edges.
    min_component
        Components with fewer nodes are dropped (>= 1).
    keep
        ``"all"`` keeps every component of at least ``min_component`` nodes,
        ``"largest"`` only the largest component.
    relative
        If True, ``merge_tol``, ``bridge_dist`` and ``simplify_tol`` are given as multiples
        of h instead of absolute lengths.
    loop_hops
        A thread end may also be bridged to a node of its *own* fragment when the two are
        more than ``loop_hops`` segments apart along the web (a break inside a cyclic
        fragment, which leaves it connected around the mesh); nearer nodes of the own
        fragment (the thread itself) are never bridge targets. ``None`` = bridge only to
        other fragments.

    Returns
    -------
    (WebGraph, RepairReport)
        The repaired web and the report of what was done. Node and edge attributes are
        carried along; a bridge copies the edge attributes of the thread it continues and
        ``edge_attrs["bridge"]`` (int8) is 1 on bridges, 0 elsewhere (an existing
        ``bridge`` attribute keeps its values). The report counts only what is in the
        final web.
    """
    cfg = RepairConfig(
        merge_tol, bridge_dist, gap_factor, max_angle, max_offset, hit_angle, clearance,
        angle_weight, simplify, simplify_tol, min_component, keep, relative, loop_hops,
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
    old = web.edge_attrs.get("bridge")
    mark = np.zeros(web.n_edges, np.int8) if old is None else (old != 0).astype(np.int8)
    web = web.replace(edge_attrs={**web.edge_attrs, "bridge": mark, _NEW: np.zeros_like(mark)})
    web = _merge_step(web, report)
    web = _bridge_step(web, report, cfg)
    if cfg.simplify:
        web = _simplify_step(web, report)
    web = _component_step(web, report, cfg)
    new = web.edge_attrs[_NEW].astype(bool)
    _bridge_figures(web, new, report)
    edge_attrs = {k: v for k, v in web.edge_attrs.items() if k != _NEW}
    done = {k: v for k, v in report.as_dict().items() if k not in ("before", "after")}
    web = web.replace(edge_attrs=edge_attrs, meta={**web.meta, "repair": done})
    report.after = web_summary(web)
    return web, report


#: Temporary edge attribute marking the bridges of this call (dropped before returning).
_NEW = "_repair_new_bridge"


def _bridge_figures(web: WebGraph, new: np.ndarray, report: RepairReport) -> None:
    """Bridge counts and lengths of the final web (bridges made by this call only)."""
    blen = web.edge_lengths[new]
    report.bridges_dropped = report.bridges_added - int(new.sum())
    report.bridges_added = int(new.sum())
    report.bridge_length_mean = float(blen.mean()) if len(blen) else 0.0
    report.bridge_length_max = float(blen.max()) if len(blen) else 0.0
    rest = web.edge_lengths[~new]
    med = float(np.median(rest)) if len(rest) else 0.0
    report.bridge_length_ratio = float(np.median(blen)) / med if len(blen) and med > 0 else 0.0


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


def _bridge_step(web: WebGraph, report: RepairReport, cfg: RepairConfig) -> WebGraph:
    """Bridge gaps along threads (see :func:`repair`), in :data:`BRIDGE_ROUNDS` rounds.

    A later round sees the web with the earlier rounds' bridges: a junction that lost two
    edges is a thread end (a stub) in the first round and a node on a mended thread in the
    next, where the thread that lost its attachment can hit it.
    """
    report.thread_ends = int(np.count_nonzero(web.degrees == 1))
    if report.bridge_dist <= 0:
        return web
    rules = BridgeRules(
        report.bridge_dist, cfg.gap_factor, cfg.max_angle, cfg.max_offset, cfg.hit_angle,
        60.0, cfg.clearance, cfg.angle_weight, cfg.loop_hops,
    )  # fmt: skip
    for _ in range(BRIDGE_ROUNDS):
        ends = np.flatnonzero(web.degrees == 1)
        cand = bridge_candidates(web, ends, rules)
        report.bridge_candidates += int(len(cand.end))
        src, dst, sure_pair = select_bridges(web, ends, cand, rules.clearance)
        keep = prune_dangling(web, src, dst, sure_pair)
        if not keep.any():
            break
        web = _add_bridges(web, src[keep], dst[keep])
        report.bridges_added += int(keep.sum())
    return web


#: Rounds of bridging (each sees the bridges of the earlier ones).
BRIDGE_ROUNDS = 2


def _add_bridges(web: WebGraph, src: np.ndarray, dst: np.ndarray) -> WebGraph:
    """``web`` plus the edges ``src-dst``, marked as bridges; each copies the attributes of
    the edge at its source (the thread it continues)."""
    new = np.sort(np.stack([src, dst], axis=1), axis=1)
    inc = np.zeros(web.n_nodes, dtype=np.int64)  # an incident edge of each degree-1 source
    inc[web.edges[:, 0]] = np.arange(web.n_edges)
    inc[web.edges[:, 1]] = np.arange(web.n_edges)
    src_edge = inc[src]
    edge_attrs = {}
    for key, val in web.edge_attrs.items():
        extra = val[src_edge]
        if key in ("bridge", _NEW):
            extra = np.ones(len(src), dtype=val.dtype)
        edge_attrs[key] = np.concatenate([val, extra])
    e, kept, _ = canonicalize_edges(np.concatenate([web.edges, new]))
    return WebGraph(
        web.pos, e, web.node_attrs, {k: v[kept] for k, v in edge_attrs.items()}, web.meta
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
    edge_attrs = {k: v[src] for k, v in web.edge_attrs.items()}
    for key in ("bridge", _NEW):  # a chain holding a bridge becomes a bridge
        if key in edge_attrs:
            inner_end = np.where(removed[e[:, 0]], e[:, 0], e[:, 1])
            chain_edges = ~keep_e
            flag = np.zeros(nc, web.edge_attrs[key].dtype)
            np.maximum.at(flag, lab[inner_end[chain_edges]], web.edge_attrs[key][chain_edges])
            edge_attrs[key][keep_e.sum() :] = flag[chosen]
    full = WebGraph(
        web.pos, np.concatenate([e[keep_e], new_e]), web.node_attrs, edge_attrs, web.meta
    )
    report.chains_contracted = int(len(chosen))
    report.nodes_simplified = int(removed.sum())
    return full.subgraph(~removed)


def _component_step(web: WebGraph, report: RepairReport, cfg: RepairConfig) -> WebGraph:
    """Keep every component of at least ``min_component`` nodes, or only the largest."""
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
