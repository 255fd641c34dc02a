"""Shared decoding of raw model outputs into valid :class:`~araneus.web.WebGraph` s.

Every generative model ends here. A model proposes candidate edges with a score (higher is
stronger); decoding guarantees the result is a valid web: finite positions, symmetric
undirected edges, no self-loops, no dangling indices, degree <= K (keeping the strongest
edges), no isolated padding, one connected component (the largest). What had to be repaired
is counted in a :class:`DecodeStats`, so that a model whose outputs need heavy repair shows
it: validity must be learned by the model, not manufactured by the decoder.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import numpy as np

from ..web import WebGraph


@dataclass
class DecodeStats:
    """Counts of repairs made while decoding a batch (summed over samples)."""

    samples: int = 0
    repaired_samples: int = 0
    nonfinite_nodes: int = 0
    self_loops: int = 0
    dangling: int = 0
    asymmetric: int = 0
    degree_cut: int = 0
    isolated_dropped: int = 0
    component_nodes_dropped: int = 0
    empty: int = 0
    #: nodes / samples that the sampler joined to the web because the model's draw gave
    #: them no earlier neighbour (``discrete`` without a parent head, with ``connect``;
    #: ``autoregressive`` without a parent pointer); such samples count as repaired,
    #: since the model's draw alone was not one web
    bridge_nodes: int = 0
    bridge_samples: int = 0

    def add_bridges(self, nodes: int) -> None:
        """Record that the sampler joined ``nodes`` nodes of this one sample (no-op for 0)."""
        if nodes > 0:
            self.bridge_nodes, self.bridge_samples, self.repaired_samples = nodes, 1, 1

    def add(self, other: DecodeStats) -> None:
        """Accumulate ``other`` into this object."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def repair_rate(self) -> float:
        """Fraction of samples that needed any repair beyond dropping padding."""
        return self.repaired_samples / self.samples if self.samples else 0.0

    def as_dict(self) -> dict[str, float]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["repair_rate"] = self.repair_rate
        return d


def _cap_degree(i: np.ndarray, j: np.ndarray, score: np.ndarray, n: int, k: int) -> np.ndarray:
    """Greedy strongest-first selection of edges so that every degree stays <= k.

    Returns a boolean keep mask over the (already unique) edges.
    """
    order = np.argsort(-score, kind="stable")
    deg = np.zeros(n, dtype=np.int64)
    keep = np.zeros(len(i), dtype=bool)
    # Fast path: nothing to cut.
    full = np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
    if full.max(initial=0) <= k:
        keep[:] = True
        return keep
    for e in order:
        a, b = i[e], j[e]
        if deg[a] < k and deg[b] < k:
            deg[a] += 1
            deg[b] += 1
            keep[e] = True
    return keep


def _merge_votes(src, dst, score, n, reduce: str = "sum"):
    """Undirected unique pairs (i < j) with summed (or max) scores and vote counts."""
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    key = a * max(n, 1) + b
    uniq, inv, votes = np.unique(key, return_inverse=True, return_counts=True)
    if reduce == "sum":
        tot = np.zeros(len(uniq))
        np.add.at(tot, inv, score)
    else:
        tot = np.full(len(uniq), -np.inf)
        np.maximum.at(tot, inv, score)
    return uniq // max(n, 1), uniq % max(n, 1), tot, votes


def _finish(pos, finite, i, j, st: DecodeStats) -> WebGraph:
    """Web from kept edges: isolated nodes dropped, the largest component kept (counted)."""
    web = WebGraph(pos, np.stack([i, j], axis=1).reshape(-1, 2))
    alive = finite & (web.degrees > 0)
    st.isolated_dropped = int((finite & (web.degrees == 0)).sum())
    web = web.subgraph(np.flatnonzero(alive))
    if web.n_nodes and web.n_components > 1:
        before = web.n_nodes
        web = web.largest_component()
        st.component_nodes_dropped = before - web.n_nodes
    if web.n_nodes == 0:
        st.empty = 1
    return web


def constrained_edges(
    i: np.ndarray,
    j: np.ndarray,
    score: np.ndarray,
    n: int,
    k: int,
    n_edges: int,
    max_leaves: int | None = None,
) -> np.ndarray:
    """Keep mask choosing ``n_edges`` of the unique candidate edges by score.

    A maximum-score spanning tree (Kruskal, degree cap ``k``) first, so the web is one
    component whenever the candidates connect it, then the strongest remaining candidates
    while degrees stay <= k. Fewer edges result only if the candidates run out.

    ``max_leaves``: while the web has more open ends (nodes of degree <= 1) than this, the
    extra edges go first to the strongest candidates joining two open ends, then to those
    touching one. A spanning tree has many leaves, and the strongest extras tend to
    gather at the same hubs; real webs have few loose thread ends, so this closes the ends
    the tree left open with the model's own best candidates (the models pass the training
    set's leaf fraction times the node count).
    """
    order = np.argsort(-score, kind="stable")
    parent = np.arange(n)

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    deg = np.zeros(n, dtype=np.int64)
    keep = np.zeros(len(i), dtype=bool)
    count = 0
    for e in order:  # spanning tree
        if count >= n_edges:
            break
        a, b = int(i[e]), int(j[e])
        ra, rb = root(a), root(b)
        if ra != rb and deg[a] < k and deg[b] < k:
            parent[ra] = rb
            deg[a] += 1
            deg[b] += 1
            keep[e] = True
            count += 1
    passes = [0] if max_leaves is None else [2, 1, 0]  # open ends an edge must touch
    ends = int((deg <= 1).sum())
    for need in passes:  # strongest extras
        for e in order:
            if count >= n_edges or (need and ends <= max_leaves):
                break
            a, b = int(i[e]), int(j[e])
            if keep[e] or deg[a] >= k or deg[b] >= k:
                continue
            if int(deg[a] <= 1) + int(deg[b] <= 1) < need:
                continue
            ends -= int(deg[a] == 1) + int(deg[b] == 1)
            deg[a] += 1
            deg[b] += 1
            keep[e] = True
            count += 1
    return keep


def decode_candidates(
    pos: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    score: np.ndarray,
    n_nodes: int,
    max_degree: int,
    *,
    scale: float = 1.0,
    symmetric_votes: bool = False,
    n_edges: int | None = None,
    mean_length: float | None = None,
    extra_src: np.ndarray | None = None,
    extra_dst: np.ndarray | None = None,
    extra_score: np.ndarray | None = None,
    leaf_fraction: float | None = None,
) -> tuple[WebGraph, DecodeStats]:
    """Decode one sample's candidate edges into a valid web.

    Parameters
    ----------
    pos
        (L, 3) raw positions (model units); multiplied by ``scale``.
    src, dst, score
        (M,) candidate directed edges ``src -> dst`` with their strength. Both directions
        of an edge may be proposed; an undirected edge's score is the sum of its votes.
    n_nodes
        Number of real nodes (rows ``>= n_nodes`` are padding).
    max_degree
        Degree cap K.
    symmetric_votes
        If true, a pair proposed from only one end counts as an asymmetry repair (for
        representations where each edge is stated at both endpoints).
    n_edges, mean_length, extra_src, extra_dst, extra_score
        Constrained decoding (see :func:`constrained_edges`): with ``n_edges`` the web gets
        that many edges, chosen by score (a maximum-score spanning tree first, then the
        strongest remaining candidates, degree cap respected), drawing on the ``extra_*``
        candidates (lower-ranked, e.g. pairs the sampler did not pick) only where the
        proposals fall short; with ``mean_length`` the positions are scaled so that the
        web's mean edge length equals it; with ``leaf_fraction`` (of the node count) the
        extra edges close open ends first while there are more than that many (see
        :func:`constrained_edges`). The repair statistics always describe the
        unconstrained decoding of the proposals, so they still show what the model got
        wrong by itself.

    Returns
    -------
    (web, stats)
    """
    st = DecodeStats(samples=1)
    L = pos.shape[0]
    n = int(min(max(n_nodes, 0), L))
    pos = np.asarray(pos[:n], dtype=np.float64) * scale
    finite = np.isfinite(pos).all(axis=1)
    st.nonfinite_nodes = int((~finite).sum())
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)
    ok = np.isfinite(score)
    in_range = (src >= 0) & (src < n) & (dst >= 0) & (dst < n)
    st.dangling = int((ok & ~in_range).sum())
    ok &= in_range
    loops = ok & (src == dst)
    st.self_loops = int(loops.sum())
    ok &= ~loops
    src, dst, score = src[ok], dst[ok], score[ok]
    if n and not finite.all():
        good = finite[src] & finite[dst]
        src, dst, score = src[good], dst[good], score[good]
    i, j, tot, votes = _merge_votes(src, dst, score, n)
    if symmetric_votes:
        st.asymmetric = int((votes == 1).sum())
    keep = _cap_degree(i, j, tot, n, max_degree)
    st.degree_cut = int((~keep).sum())
    pos = np.where(finite[:, None], pos, 0.0)
    web = _finish(pos, finite, i[keep], j[keep], st)
    if n_edges is not None and n:
        if extra_src is not None and len(extra_src):
            es, ed = np.asarray(extra_src, np.int64), np.asarray(extra_dst, np.int64)
            ok = (es >= 0) & (es < n) & (ed >= 0) & (ed < n) & (es != ed)
            ok &= finite[np.clip(es, 0, n - 1)] & finite[np.clip(ed, 0, n - 1)]
            ei, ej, esc, _ = _merge_votes(es[ok], ed[ok], np.asarray(extra_score, float)[ok], n)
            low = tot.min(initial=0.0) - 1.0  # every proposal outranks every extra
            i = np.concatenate([i, ei])
            j = np.concatenate([j, ej])
            tot = np.concatenate([tot, low - (esc.max(initial=0.0) - esc)])
            i, j, tot, _ = _merge_votes(i, j, tot, n, reduce="max")
        ends = None if leaf_fraction is None else int(round(leaf_fraction * n))
        sel = constrained_edges(i, j, tot, n, max_degree, int(n_edges), ends)
        web = _finish(pos, finite, i[sel], j[sel], DecodeStats())
    if mean_length is not None and web.n_edges and np.isfinite(mean_length) and mean_length > 0:
        web = WebGraph(web.pos * (mean_length / web.edge_lengths.mean()), web.edges)
    repaired = (
        st.nonfinite_nodes
        + st.self_loops
        + st.dangling
        + st.asymmetric
        + st.degree_cut
        + st.isolated_dropped
        + st.component_nodes_dropped
        + st.empty
    )
    st.repaired_samples = int(repaired > 0)
    return web, st


def decode_dense(
    pos: np.ndarray,
    scores: np.ndarray,
    n_nodes: int,
    max_degree: int,
    *,
    threshold: float = 0.5,
    scale: float = 1.0,
) -> tuple[WebGraph, DecodeStats]:
    """Decode one sample given a dense (L, L) edge score/probability matrix.

    Pairs with ``(S + S^T) / 2 > threshold`` become candidate edges (NaN scores never do);
    asymmetric decisions (``S_ij`` and ``S_ji`` on different sides of the threshold) are
    counted as repairs.
    """
    s = np.asarray(scores, dtype=np.float64)
    L = s.shape[0]
    n = int(min(max(n_nodes, 0), L))
    s = s[:n, :n]
    s = np.where(np.isfinite(s), s, -np.inf)
    sym = 0.5 * (s + s.T)
    iu, ju = np.triu_indices(n, k=1)
    v = sym[iu, ju]
    sel = np.isfinite(v) & (v > threshold)
    asym = int(((s[iu, ju] > threshold) != (s[ju, iu] > threshold)).sum())
    web, st = decode_candidates(pos, iu[sel], ju[sel], v[sel], n, max_degree, scale=scale)
    st.asymmetric += asym
    if asym and not st.repaired_samples:
        st.repaired_samples = 1
    return web, st


def decode_batch_dense(
    pos: np.ndarray,
    scores: np.ndarray,
    n_nodes: np.ndarray,
    max_degree: int,
    *,
    threshold: float = 0.5,
    scale: float = 1.0,
) -> tuple[list[WebGraph], DecodeStats]:
    """:func:`decode_dense` over a batch: pos (B, L, 3), scores (B, L, L), n_nodes (B,)."""
    total = DecodeStats()
    webs = []
    for b in range(pos.shape[0]):
        w, st = decode_dense(
            pos[b], scores[b], int(n_nodes[b]), max_degree, threshold=threshold, scale=scale
        )
        webs.append(w)
        total.add(st)
    return webs, total


_COARSE_ROTATIONS = 512  # ~30 degree spacing over SO(3); then three finer local rounds
_REFINE = ((0.3, 64), (0.1, 64), (0.03, 64))  # (perturbation angle in rad, candidates)


@functools.lru_cache(maxsize=1)
def _rotation_sets() -> tuple[np.ndarray, ...]:
    """Fixed (seeded) candidate rotations: a coarse cover of SO(3) led by the identity,
    then one set of small perturbations per refinement round."""
    from scipy.spatial.transform import Rotation

    coarse = Rotation.random(_COARSE_ROTATIONS - 1, random_state=0).as_matrix()
    sets = [np.concatenate([np.eye(3)[None], coarse])]
    rng = np.random.default_rng(1)
    for angle, m in _REFINE:
        axis = rng.normal(size=(m, 3))
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        step = Rotation.from_rotvec(axis * angle * rng.random((m, 1))).as_matrix()
        sets.append(np.concatenate([np.eye(3)[None], step]))
    return tuple(sets)


def orientation_rotation(vectors: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Proper rotation ``R`` (3, 3) whose rotated edge vectors ``vectors @ R.T`` have mean
    absolute x/y/z components closest (least squares) to ``target`` (3,); NaN entries of
    ``target`` are not requested. A coarse search over a fixed cover of SO(3) is refined
    in three local rounds; the identity is always a candidate, so the fit is never worse
    than the web as generated, and with no edges or no target ``R`` is the identity.

    Rotation changes no length, angle or connection: it is the geometry-preserving way of
    meeting a requested orientation (``mean_abs_dx/dy/dz``) with a generated shape.
    """
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 3)
    t = np.asarray(target, dtype=np.float64).reshape(3)
    given = np.isfinite(t)
    if not given.any() or not len(v) or not np.isfinite(v).all():
        return np.eye(3)
    best = np.eye(3)
    for cand in _rotation_sets():
        rs = cand @ best  # candidates composed with the best so far (first set: best = I)
        got = np.abs(v @ rs.reshape(-1, 3).T).mean(0).reshape(-1, 3)  # (M, 3) mean |R v|
        err = ((got - t)[:, given] ** 2).sum(1)
        best = rs[int(np.argmin(err))]
    return best


def fit_orientation(web: WebGraph, target: np.ndarray) -> tuple[WebGraph, float]:
    """Rotate ``web`` about its node centroid by :func:`orientation_rotation` toward the
    requested ``target`` mean |dx|, |dy|, |dz| (NaN = not requested). Returns the rotated
    web and the rotation angle in degrees (0: kept as generated)."""
    r = orientation_rotation(web.edge_vectors, target)
    angle = float(np.degrees(np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0))))
    if angle == 0.0:
        return web, 0.0
    c = web.pos.mean(axis=0)
    return web.transform(rotation=r, translation=c - r @ c), angle
