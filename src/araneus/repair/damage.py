"""Simulated scan damage and its scoring: breaks, drop-outs, jitter, debris, noise points.

Used to test and benchmark :func:`araneus.repair.repair` on webs whose intact form is known:
:func:`simulate_breaks` damages a web the way a scan does and records which nodes a correct
repair should join again (the *gaps*); :func:`score_repair` compares a repaired web with
that record. :func:`thread_lattice` and :func:`parallel_threads` are small intact test
webs (a 3-D lattice of polyline struts; side-by-side straight threads).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from ..errors import InputError
from ..web import WebGraph


def _check_count(name: str, val: int) -> int:
    if isinstance(val, bool) or int(val) != val or val < 0:
        raise InputError(f"{name} must be a non-negative integer, got {val}")
    return int(val)


def simulate_breaks(
    web: WebGraph,
    n_breaks: int,
    *,
    jitter: float = 0.0,
    debris: int = 0,
    noise_points: int = 0,
    dropouts: int = 0,
    max_run: int = 3,
    seed: int = 0,
) -> WebGraph:
    """Damage a web the way a scan does: break threads, drop out stretches, add debris.

    Parameters
    ----------
    web
        Input web with at least ``n_breaks`` edges.
    n_breaks
        Number of edges (thread segments) removed, chosen uniformly at random; each leaves
        a gap of one segment length between the two thread ends.
    jitter
        Standard deviation of the Gaussian noise added to every coordinate, as a multiple
        of the median edge length h.
    debris
        Number of isolated two-node thread pieces (length about h) scattered uniformly in
        the bounding box, appended after the web's nodes.
    noise_points
        Number of isolated nodes (imaging noise) scattered uniformly in the bounding box,
        appended after the debris.
    dropouts
        Number of drop-outs: runs of 2 to ``max_run`` consecutive segments of one thread
        (through degree-2 nodes) that the scan lost together with their interior nodes.
    max_run
        Longest drop-out in segments (>= 2).
    seed
        Random seed (same seed, same output).

    Returns
    -------
    WebGraph
        The surviving nodes of ``web`` in their order (jittered), then debris nodes, then
        noise points. ``node_attrs["source_node"]`` gives each node's index in ``web``
        (-1 for debris and noise); without drop-outs, nodes ``0..N-1`` are ``web``'s.
        ``meta["broken_edges"]`` lists the removed edges (indices of ``web``, drop-outs
        included) and ``meta["gaps"]`` the gaps a repair should close, as pairs of node
        indices of the output (see :func:`damage_gaps`).
    """
    if not isinstance(web, WebGraph) or web.n_edges == 0:
        raise InputError("simulate_breaks needs a WebGraph with at least one edge")
    n_breaks = _check_count("n_breaks", n_breaks)
    debris = _check_count("debris", debris)
    noise_points = _check_count("noise_points", noise_points)
    dropouts = _check_count("dropouts", dropouts)
    if isinstance(max_run, bool) or int(max_run) != max_run or max_run < 2:
        raise InputError(f"max_run must be an integer >= 2, got {max_run}")
    if n_breaks > web.n_edges:
        raise InputError(f"n_breaks={n_breaks} exceeds the number of edges ({web.n_edges})")
    if not (np.isfinite(jitter) and jitter >= 0):
        raise InputError(f"jitter must be finite and >= 0, got {jitter}")
    rng = np.random.default_rng(seed)
    h = float(np.median(web.edge_lengths))
    cut = rng.choice(web.n_edges, size=n_breaks, replace=False)
    keep = np.ones(web.n_edges, dtype=bool)
    keep[cut] = False
    keep_node = np.ones(web.n_nodes, dtype=bool)
    if dropouts:
        run_edges, run_nodes = _dropout_runs(web, dropouts, int(max_run), rng)
        keep[run_edges] = False
        keep_node[run_nodes] = False
    pos = web.pos + rng.normal(0.0, jitter * h, size=web.pos.shape)
    lo, hi = web.bbox()
    start = rng.uniform(lo, hi, size=(debris, 3))
    direction = rng.normal(size=(debris, 3))
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    dpos = np.stack([start, start + h * direction], axis=1).reshape(-1, 3)
    dpos = np.concatenate([dpos, rng.uniform(lo, hi, size=(noise_points, 3))])
    kept = np.flatnonzero(keep_node)
    new_id = np.full(web.n_nodes, -1, np.int64)
    new_id[kept] = np.arange(len(kept))
    n = len(kept)
    dedges = n + np.arange(2 * debris).reshape(-1, 2)
    node_attrs = {
        k: np.concatenate([v[kept], np.zeros((len(dpos),) + v.shape[1:], v.dtype)])
        for k, v in web.node_attrs.items()
        if k != "source_node"
    }
    node_attrs["source_node"] = np.concatenate([kept, np.full(len(dpos), -1)]).astype(np.int64)
    edge_attrs = {
        k: np.concatenate([v[keep], np.zeros((debris,) + v.shape[1:], v.dtype)])
        for k, v in web.edge_attrs.items()
    }
    gaps = damage_gaps(web, ~keep, keep_node)
    meta = {
        **web.meta,
        "broken_edges": web.edges[np.flatnonzero(~keep)].tolist(),
        "gaps": new_id[gaps].tolist(),
    }
    return WebGraph(
        np.concatenate([pos[kept], dpos]),
        np.concatenate([new_id[web.edges[keep]], dedges]),
        node_attrs,
        edge_attrs,
        meta,
    )


def _dropout_runs(
    web: WebGraph, count: int, max_run: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Edges and interior nodes of ``count`` runs of 2..max_run segments along threads.

    A run starts at a random edge and walks through degree-2 nodes (never through a
    junction or an anchor); runs that cannot reach 2 segments are skipped.
    """
    a = web.adjacency
    deg = web.degrees
    through = deg == 2
    if "anchor" in web.node_attrs:
        through &= ~web.node_attrs["anchor"].astype(bool)
    key = {(int(i), int(j)): k for k, (i, j) in enumerate(web.edges.tolist())}
    edges, nodes = [], []
    for e in rng.choice(web.n_edges, size=min(count, web.n_edges), replace=False):
        want = int(rng.integers(2, max_run + 1))
        prev, cur = (int(x) for x in web.edges[e][:: 1 if rng.random() < 0.5 else -1])
        run_e, run_n = [int(e)], []
        while len(run_e) < want and through[cur]:
            nb = a.indices[a.indptr[cur] : a.indptr[cur + 1]]
            nxt = int(nb[0] if nb[0] != prev else nb[1])
            run_n.append(cur)
            run_e.append(key[(min(cur, nxt), max(cur, nxt))])
            prev, cur = cur, nxt
        if len(run_e) >= 2:
            edges += run_e
            nodes += run_n
    return np.array(edges, np.int64), np.array(nodes, np.int64)


def damage_gaps(web: WebGraph, removed: np.ndarray, keep_node: np.ndarray) -> np.ndarray:
    """The gaps left by removing edges (and nodes) of ``web``: pairs of surviving nodes.

    Removed edges are grouped into connected stretches (through removed nodes); a stretch
    whose surviving end nodes (*ports*) are exactly two, at least one of them a thread
    end (degree 1) after the damage, is a gap that a repair can see and should close.
    Stretches around junctions (more than two ports) are not listed.

    Returns
    -------
    ndarray (G, 2)
        Node indices of ``web`` (sorted pairs).
    """
    idx = np.flatnonzero(removed)
    if not len(idx):
        return np.zeros((0, 2), np.int64)
    n = web.n_nodes
    e = web.edges[idx]
    alive_deg = np.bincount(web.edges[~removed].ravel(), minlength=n)
    port = keep_node & (alive_deg > 0)
    owner = _stretch_of_edge(n, e, ~port)
    ends = np.concatenate([e[:, 0], e[:, 1]])
    own = np.concatenate([owner, owner])
    is_port = port[ends]
    pairs = np.unique(np.stack([own[is_port], ends[is_port]], 1), axis=0)
    grp, cnt = np.unique(pairs[:, 0], return_counts=True)
    two = grp[cnt == 2]
    sel = pairs[np.isin(pairs[:, 0], two)]
    sel = sel[np.argsort(sel[:, 0], kind="stable")]
    gap = np.sort(sel[:, 1].reshape(-1, 2), axis=1)
    visible = (alive_deg[gap] == 1).any(axis=1)
    return gap[visible]


def _stretch_of_edge(n: int, e: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """(E,) stretch label of each removed edge ``e``: edges joined at ``inner`` nodes share one.

    Removed edges are chained only through nodes that are ``inner`` (not surviving ends);
    an edge between two surviving nodes is a stretch of its own.
    """
    both_in = inner[e[:, 0]] & inner[e[:, 1]]
    ei = e[both_in]
    g = sp.coo_matrix((np.ones(len(ei)), (ei[:, 0], ei[:, 1])), shape=(n, n))
    _, lab = csgraph.connected_components(g, directed=False)
    owner = np.where(inner[e[:, 0]], lab[e[:, 0]], lab[e[:, 1]])
    return np.where(~inner[e[:, 0]] & ~inner[e[:, 1]], n + np.arange(len(e)), owner)


def score_repair(damaged: WebGraph, repaired: WebGraph, angle: float = 30.0) -> dict[str, float]:
    """How well ``repaired`` (from :func:`~araneus.repair.repair`) closed ``damaged``'s gaps.

    ``damaged`` is an output of :func:`simulate_breaks`; ``repaired`` must carry the
    ``source_node`` node attribute and the ``bridge`` edge attribute (repair keeps both).

    Returns
    -------
    dict
        ``gaps``: true gaps (``meta["gaps"]``); ``gaps_closed``: fraction of them joined
        by a bridge; ``bridges``: bridges in the repaired web; ``false_bridges``: fraction
        of bridges that join two nodes not separated by one removed stretch of the intact
        web (debris and noise included); ``within_angle``: fraction of bridges within
        ``angle`` degrees of the thread they continue (its direction at the end in
        ``damaged``, measured like the repair's tangent,
        :func:`araneus.repair._bridge.thread_tangents`; the smaller angle where both ends of a
        bridge were thread ends); ``median_angle``; ``nodes_kept``: fraction of the intact web's
        surviving, connected nodes present in ``repaired``; ``false_near``: fraction of
        bridges that are false but land one intact-web segment beside a true partner
        (part of ``false_bridges``: a near miss, e.g. on the wrong one of two junctions a
        short segment apart); ``clean_gaps``: fraction of the true gaps that are *clean*
        (:func:`gap_classes`: no other thread within a quarter local segment of the gap, no
        thread at a junction partner running back along it) and ``clean_closed``: the
        fraction of those joined by a bridge.
    """
    for w, what in ((damaged, "damaged"), (repaired, "repaired")):
        if "source_node" not in w.node_attrs:
            raise InputError(f"{what} web has no node_attrs['source_node'] (use simulate_breaks)")
    if "bridge" not in repaired.edge_attrs:
        raise InputError("repaired web has no edge_attrs['bridge'] (use araneus.repair.repair)")
    src_d = damaged.node_attrs["source_node"]
    src_r = repaired.node_attrs["source_node"]
    br = repaired.edges[repaired.edge_attrs["bridge"].astype(bool)]
    sb = np.sort(src_r[br], axis=1)  # bridges as pairs of intact-web node indices
    gaps = np.sort(src_d[np.asarray(damaged.meta.get("gaps", []), np.int64).reshape(-1, 2)], 1)
    big = int(max(src_d.max(), 0)) + 1
    gap_key = gaps[:, 0] * big + gaps[:, 1]
    real = (sb >= 0).all(axis=1)
    br_key = np.where(real, sb[:, 0] * big + sb[:, 1], -1)
    true_br = _true_bridges(damaged, sb)
    near = _near_misses(damaged, sb, true_br)
    closed = np.isin(gap_key, br_key[real])
    clean = gap_classes(damaged) == CLEAN
    ang = _bridge_angles(damaged, repaired, br)
    alive = (damaged.degrees > 0) & (src_d >= 0)
    kept = np.isin(src_d[alive], src_r)
    nb = len(br)
    return {
        "gaps": float(len(gaps)),
        "gaps_closed": float(closed.mean()) if len(gaps) else 1.0,
        "bridges": float(nb),
        "false_bridges": float(1 - true_br.mean()) if nb else 0.0,
        "false_near": float(near.mean()) if nb else 0.0,
        "within_angle": float(np.mean(ang <= angle)) if nb else 1.0,
        "median_angle": float(np.median(ang)) if nb else 0.0,
        "nodes_kept": float(kept.mean()) if alive.any() else 1.0,
        "clean_gaps": float(clean.mean()) if len(gaps) else 1.0,
        "clean_closed": float(closed[clean].mean()) if clean.any() else 1.0,
    }


#: Classes of true gaps (:func:`gap_classes`).
CLEAN, CROWDED, DOUBLING = 0, 1, 2


def gap_classes(damaged: WebGraph, clearance: float = 0.25) -> np.ndarray:
    """(G,) class of each true gap of ``damaged`` (``meta["gaps"]``), by what lies in its way.

    * :data:`CROWDED` (1): another thread (an edge not within two edges of the gap's
      nodes) passes within ``clearance`` local segment lengths of the gap: the rule that
      keeps bridges off threads they do not join cannot tell it from a wrong bridge;
    * :data:`DOUBLING` (2): otherwise, the partner is a junction with a thread running back
      along the gap (within 45 degrees): a bridge there would run alongside that thread;
    * :data:`CLEAN` (0): neither.

    Local segment lengths are measured at the gap's thread end as the repair measures them
    (:func:`araneus.repair._bridge.local_scale`).
    """
    from ._bridge import _branch_directions, local_scale
    from ._clearance import edge_clearance

    g = np.asarray(damaged.meta.get("gaps", []), np.int64).reshape(-1, 2)
    if not len(g):
        return np.zeros(0, np.int64)
    swap = damaged.degrees[g[:, 0]] != 1
    a, b = np.where(swap, g[:, 1], g[:, 0]), np.where(swap, g[:, 0], g[:, 1])
    local = local_scale(damaged, a)
    par, steep = edge_clearance(damaged, a, b, clearance * local)
    v = damaged.pos[b] - damaged.pos[a]
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)
    row, w = _branch_directions(damaged, b, local)
    back = np.full(len(b), -np.inf)
    np.maximum.at(back, row, -np.einsum("ij,ij->i", w, v[row]))
    doubling = (damaged.degrees[b] >= 2) & (back >= np.cos(np.radians(45.0)))
    crowded = np.minimum(par, steep) < 1.0
    return np.where(crowded, CROWDED, np.where(doubling, DOUBLING, CLEAN))


def _true_bridges(damaged: WebGraph, sb: np.ndarray) -> np.ndarray:
    """(B,) True where bridge ``sb[k]`` (intact-web indices) joins two ports of one stretch."""
    broken = np.asarray(damaged.meta.get("broken_edges", []), np.int64).reshape(-1, 2)
    if not len(sb):
        return np.zeros(0, bool)
    n = int(max(broken.max() if len(broken) else 0, sb.max(), 0)) + 1
    ok = (sb >= 0).all(axis=1)
    if not len(broken):
        return np.zeros(len(sb), bool)
    src = damaged.node_attrs["source_node"]
    live = src[(src >= 0) & (damaged.degrees > 0)]
    survived = np.zeros(n, bool)
    survived[live[live < n]] = True  # surviving, connected nodes are the stretches' ports
    e = broken
    owner = _stretch_of_edge(n, e, ~survived)
    port_pairs = {(int(o), int(v)) for o, a, b in zip(owner, e[:, 0], e[:, 1]) for v in (a, b)}
    stretches_of: dict[int, set[int]] = {}
    for o, v in port_pairs:
        stretches_of.setdefault(v, set()).add(o)
    out = np.zeros(len(sb), bool)
    for k in np.flatnonzero(ok):
        a, b = int(sb[k, 0]), int(sb[k, 1])
        out[k] = bool(stretches_of.get(a, set()) & stretches_of.get(b, set()))
    return out


def _near_misses(damaged: WebGraph, sb: np.ndarray, true_br: np.ndarray) -> np.ndarray:
    """(B,) True for false bridges that would be true with one end moved to an intact neighbour."""
    out = np.zeros(len(sb), bool)
    bad = np.flatnonzero(~true_br & (sb >= 0).all(axis=1))
    if not len(bad):
        return out
    src = damaged.node_attrs["source_node"]
    alive = damaged.edges[(src[damaged.edges] >= 0).all(axis=1)]
    broken = np.asarray(damaged.meta.get("broken_edges", []), np.int64).reshape(-1, 2)
    intact = np.concatenate([src[alive], broken])
    nbrs: dict[int, list[int]] = {}
    for i, j in intact.tolist():
        nbrs.setdefault(i, []).append(j)
        nbrs.setdefault(j, []).append(i)
    for k in bad:
        a, b = (int(x) for x in sb[k])
        moved = [(a, x) for x in nbrs.get(b, [])] + [(x, b) for x in nbrs.get(a, [])]
        if moved:
            out[k] = bool(_true_bridges(damaged, np.sort(np.array(moved), axis=1)).any())
    return out


def _bridge_angles(damaged: WebGraph, repaired: WebGraph, br: np.ndarray) -> np.ndarray:
    """(B,) angle (degrees) of each bridge to the thread at the end it leaves.

    The thread's direction is measured in ``damaged`` over about two local segment lengths
    back from the end (:func:`araneus.repair._bridge.thread_tangents`); where both ends of a
    bridge were thread ends, the smaller of the two angles counts.
    """
    from ._bridge import thread_tangents

    if not len(br):
        return np.zeros(0)
    src_d = damaged.node_attrs["source_node"]
    src_r = repaired.node_attrs["source_node"]
    lookup = np.full(int(max(src_d.max(), src_r.max(), 0)) + 2, -1, np.int64)
    lookup[src_d[src_d >= 0]] = np.flatnonzero(src_d >= 0)
    ends = np.flatnonzero(damaged.degrees == 1)
    u, _ = thread_tangents(damaged, ends)
    tangent = np.zeros((damaged.n_nodes, 3))
    tangent[ends] = u
    is_end = damaged.degrees == 1
    out = np.full(len(br), 180.0)
    for side in (0, 1):
        s, t = br[:, side], br[:, 1 - side]
        ds = np.where(src_r[s] >= 0, lookup[np.maximum(src_r[s], 0)], -1)
        ok = (ds >= 0) & is_end[np.maximum(ds, 0)]
        v = repaired.pos[t[ok]] - repaired.pos[s[ok]]
        cos = np.einsum("ij,ij->i", tangent[ds[ok]], v) / np.maximum(
            np.linalg.norm(v, axis=1), 1e-300
        )
        out[ok] = np.minimum(out[ok], np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return out


def parallel_threads(
    n_threads: int = 6, length: float = 40.0, spacing: float = 2.0, segment: float = 1.0
) -> WebGraph:
    """Straight parallel threads, each a polyline of ``segment``-long pieces, held by two frames.

    Threads run along x at ``y = k * spacing``; their ends are joined by two frame threads
    along y at ``x = 0`` and ``x = length`` (so the web is one piece). The hard case of
    scan repair: a break in one thread lies beside its unbroken neighbours.

    Returns
    -------
    WebGraph
        ``edge_attrs["thread"]``: ``radial`` for the parallel threads, ``frame`` for the
        two frames.
    """
    from ..web import thread_code

    for name, val in (("length", length), ("spacing", spacing), ("segment", segment)):
        if not (np.isfinite(val) and val > 0):
            raise InputError(f"{name} must be finite and > 0, got {val!r}")
    if isinstance(n_threads, bool) or int(n_threads) != n_threads or not 2 <= n_threads <= 10_000:
        raise InputError(f"n_threads must be an integer in [2, 10000], got {n_threads!r}")
    m = max(int(round(length / segment)), 1)
    x = np.linspace(0.0, length, m + 1)
    k = np.arange(int(n_threads))
    pos = np.stack(np.broadcast_arrays(x[None, :], k[:, None] * spacing, 0.0), -1).reshape(-1, 3)
    ids = np.arange(len(pos)).reshape(int(n_threads), m + 1)
    along = np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], 1)
    frame = np.concatenate([np.stack([ids[:-1, c], ids[1:, c]], 1) for c in (0, m)])
    codes = np.r_[np.full(len(along), thread_code("radial")), np.full(len(frame), thread_code("frame"))]
    return WebGraph(pos, np.concatenate([along, frame]), edge_attrs={"thread": codes.astype(np.int8)})


def thread_lattice(
    n: int | tuple[int, int, int] = 4, sub: int = 3, spacing: float = 1.0
) -> WebGraph:
    """A connected 3-D test web: an ``n`` lattice whose struts are chains of thread segments.

    The intact counterpart of a scan skeleton for tests and benchmarks of
    :func:`araneus.repair.repair`: lattice points of degree up to 6, joined by threads of
    ``sub`` segments each (``sub - 1`` degree-2 nodes per strut).

    Parameters
    ----------
    n
        Lattice points per axis: one int for a cube, or (nx, ny, nz); each in [1, 200].
    sub
        Segments per strut (>= 1).
    spacing
        Distance between lattice points (length units, > 0); segments are ``spacing / sub``.

    Returns
    -------
    WebGraph
        Lattice points first (``nx*ny*nz``, C order), then the strut-interior nodes.
    """
    shape = np.atleast_1d(np.asarray(n))
    shape = np.repeat(shape, 3) if shape.shape == (1,) else shape
    bad_kind = shape.shape != (3,) or shape.dtype.kind not in "iu"
    if bad_kind or np.any(shape < 1) or np.any(shape > 200):
        raise InputError(f"n must be an integer in [1, 200] or three such integers, got {n!r}")
    if isinstance(sub, bool) or int(sub) != sub or sub < 1:
        raise InputError(f"sub must be an integer >= 1, got {sub!r}")
    if not (np.isfinite(spacing) and spacing > 0):
        raise InputError(f"spacing must be finite and > 0, got {spacing!r}")
    dims = tuple(int(k) for k in shape)
    grid = np.stack(np.meshgrid(*[np.arange(k) for k in dims], indexing="ij"), -1)
    g = grid.reshape(-1, 3) * float(spacing)
    idx = np.arange(len(g)).reshape(dims)
    pairs = np.concatenate(
        [
            np.stack([np.moveaxis(idx, a, 0)[:-1].ravel(), np.moveaxis(idx, a, 0)[1:].ravel()], 1)
            for a in range(3)
        ]
    )
    t = np.arange(1, int(sub)) / int(sub)
    inner = g[pairs[:, 0], None] + t[None, :, None] * (g[pairs[:, 1]] - g[pairs[:, 0]])[:, None]
    ids = len(g) + np.arange(len(pairs) * (int(sub) - 1)).reshape(len(pairs), int(sub) - 1)
    chain = np.concatenate([pairs[:, :1], ids, pairs[:, 1:]], 1)
    edges = np.sort(np.stack([chain[:, :-1].ravel(), chain[:, 1:].ravel()], 1), 1)
    return WebGraph(np.concatenate([g, inner.reshape(-1, 3)]), edges.reshape(-1, 2))


__all__ = [
    "CLEAN",
    "CROWDED",
    "DOUBLING",
    "damage_gaps",
    "gap_classes",
    "parallel_threads",
    "score_repair",
    "simulate_breaks",
    "thread_lattice",
]
