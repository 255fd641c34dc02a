"""Clearance tests of scan-repair bridges: distances to the threads they pass.

A bridge must not run alongside another thread (a rung of a ladder between parallel
threads) nor pass close to a thread or node it does not join; of two bridges passing close
to each other only the better is kept. Vectorised over the bridges (cKDTree queries,
sparse neighbourhoods); used by :mod:`araneus.repair._bridge` and :mod:`araneus.repair._matching`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ..web import WebGraph

#: Edges within this many degrees of a bridge's direction run alongside it ("parallel");
#: steeper ones cross it.
PARALLEL_ANGLE = 45.0


def segment_distance(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """(K,) smallest distance between segments ``p0-p1`` and ``q0-q1`` (each (K, 3))."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = np.einsum("ij,ij->i", d1, d1)
    e = np.einsum("ij,ij->i", d2, d2)
    f = np.einsum("ij,ij->i", d2, r)
    c = np.einsum("ij,ij->i", d1, r)
    b = np.einsum("ij,ij->i", d1, d2)
    a_safe, e_safe = np.maximum(a, 1e-300), np.maximum(e, 1e-300)
    denom = a * e - b * b
    s = np.where(denom > 1e-12 * a * e, np.clip((b * f - c * e) / np.maximum(denom, 1e-300), 0, 1), 0)
    t = (b * s + f) / e_safe
    lo, hi = t < 0, t > 1
    s = np.where(lo, np.clip(-c / a_safe, 0, 1), np.where(hi, np.clip((b - c) / a_safe, 0, 1), s))
    t = np.clip(t, 0, 1)
    return np.linalg.norm(p0 + s[:, None] * d1 - (q0 + t[:, None] * d2), axis=1)


def edge_clearance(
    web: WebGraph, a: np.ndarray, b: np.ndarray, tol: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance of segments ``a-b`` from the edges they do not touch, in units of ``tol``.

    Returns (parallel (K,), steep (K,)): the smallest distance to an edge within
    :data:`PARALLEL_ANGLE` of the segment's direction and to a steeper one, divided by
    ``tol`` (inf where there is none). Edges touching ``a``, ``b`` or a node within two
    edges of them belong to the bridged threads and are skipped.
    """
    k = len(a)
    inf = np.full(k, np.inf)
    if k == 0 or web.n_edges == 0:
        return inf, inf.copy()
    e = web.edges
    p0, p1 = web.pos[e[:, 0]], web.pos[e[:, 1]]
    length = web.edge_lengths
    long_cut = max(4.0 * float(np.median(length)), 1e-300)
    short = length <= long_cut
    qa, qb = web.pos[a], web.pos[b]
    mid = 0.5 * (qa + qb)
    radius = 0.5 * np.linalg.norm(qb - qa, axis=1) + 0.5 * long_cut + tol
    idx_short = np.flatnonzero(short)
    lists = cKDTree(0.5 * (p0 + p1)[idx_short]).query_ball_point(mid, radius)
    row, col = _flatten(lists, k)
    col = idx_short[col]
    idx_long = np.flatnonzero(~short)
    if len(idx_long):
        row = np.concatenate([row, np.repeat(np.arange(k), len(idx_long))])
        col = np.concatenate([col, np.tile(idx_long, k)])
    near = _near_nodes(web, a, b)  # (K, M): a, b and their neighbours
    touch = (e[col, 0, None] == near[row]).any(axis=1) | (e[col, 1, None] == near[row]).any(axis=1)
    row, col = row[~touch], col[~touch]
    dist = segment_distance(qa[row], qb[row], p0[col], p1[col]) / tol[row]
    bv, ev = qb[row] - qa[row], p1[col] - p0[col]
    cos = np.abs(np.einsum("ij,ij->i", bv, ev)) / np.maximum(
        np.linalg.norm(bv, axis=1) * np.linalg.norm(ev, axis=1), 1e-300
    )
    par = cos >= np.cos(np.radians(PARALLEL_ANGLE))
    out_par, out_steep = inf, inf.copy()
    np.minimum.at(out_par, row[par], dist[par])
    np.minimum.at(out_steep, row[~par], dist[~par])
    return out_par, out_steep


def node_clearance(
    web: WebGraph, a: np.ndarray, b: np.ndarray, tol: np.ndarray, target_only: bool = False
) -> np.ndarray:
    """(K,) True where no node lies within ``tol`` of the segment ``a-b``.

    ``target_only``: test only the nodes within two edges of ``b`` (other than ``a`` and
    ``b``) that lie between ``a`` and ``b``, within :data:`PARALLEL_ANGLE` of the direction
    from ``b`` back to ``a``: a bridge passing one of them runs along the target's thread
    (nodes of a thread crossing at ``b`` lie off to the side and do not count). Otherwise test every connected node except ``a``, ``b``
    and the nodes within two edges of them (the bridged threads themselves).
    """
    k = len(a)
    if k == 0:
        return np.ones(0, bool)
    pa, pb = web.pos[a], web.pos[b]
    if target_only:
        sel = sp.csr_matrix((np.ones(k), (np.arange(k), b)), shape=(k, web.n_nodes))
        one = sel @ web.adjacency
        two = (one + one @ web.adjacency).tocoo()
        row, col = two.row.astype(np.int64), two.col.astype(np.int64)
        m = (col != a[row]) & (col != b[row])
    else:
        mid = 0.5 * (pa + pb)
        rad = 0.5 * np.linalg.norm(pb - pa, axis=1) + tol
        row, col = _flatten(cKDTree(web.pos).query_ball_point(mid, rad), k)
        near = _near_nodes(web, a, b)
        m = ~(col[:, None] == near[row]).any(axis=1) & (web.degrees[col] > 0)
    row, col = row[m], col[m]
    seg = pb[row] - pa[row]
    t = np.einsum("ij,ij->i", web.pos[col] - pa[row], seg) / np.maximum(
        np.einsum("ij,ij->i", seg, seg), 1e-300
    )
    if target_only:  # only nodes the bridge reaches before the target, behind it
        back = pa[row] - pb[row]
        rel = web.pos[col] - pb[row]
        cos = np.einsum("ij,ij->i", rel, back) / np.maximum(
            np.linalg.norm(rel, axis=1) * np.linalg.norm(back, axis=1), 1e-300
        )
        inside = (t > 0.0) & (t < 1.0) & (cos >= np.cos(np.radians(PARALLEL_ANGLE)))
        row, col, t, seg = row[inside], col[inside], t[inside], seg[inside]
    t = np.clip(t, 0.0, 1.0)
    dist = np.linalg.norm(web.pos[col] - (pa[row] + t[:, None] * seg), axis=1)
    bad = np.zeros(k, bool)
    bad[row[dist < tol[row]]] = True
    return ~bad


def _flatten(lists, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) int64 arrays of a list of ``k`` index lists (cKDTree ball queries)."""
    cnt = np.fromiter((len(x) for x in lists), np.int64, k)
    row = np.repeat(np.arange(k), cnt)
    col = np.concatenate([np.asarray(x, np.int64) for x in lists]) if cnt.sum() else (
        np.zeros(0, np.int64)
    )
    return row, col


def _near_nodes(web: WebGraph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(K, M) nodes a bridge a-b may pass close to: a, b and all nodes within two edges.

    Edges among these belong to the bridged thread itself (its last segments, which may be
    very short) or meet it at the target junction. -1 pads the rows.
    """
    adj = web.adjacency
    sel = sp.csr_matrix(
        (np.ones(2 * len(a)), (np.r_[np.arange(len(a)), np.arange(len(a))], np.r_[a, b])),
        shape=(len(a), web.n_nodes),
    )
    one = sel + sel @ adj
    two = (one + one @ adj).tocsr()
    two.sort_indices()
    cnt = np.diff(two.indptr)
    out = np.full((len(a), int(cnt.max(initial=1))), -1, np.int64)
    row = np.repeat(np.arange(len(a)), cnt)
    out[row, np.arange(len(row)) - np.repeat(two.indptr[:-1], cnt)] = two.indices
    return out


def drop_crossing_bridges(pos: np.ndarray, src: np.ndarray, dst: np.ndarray, tol: np.ndarray,
                          order: np.ndarray) -> np.ndarray:  # fmt: skip
    """(K,) mask of bridges kept when bridges closer than ``tol`` to each other conflict.

    Bridges sharing no node and passing within ``tol`` (the smaller of the two) of each
    other cross or ladder; the one later in ``order`` (worse score) is dropped.
    """
    k = len(src)
    keep = np.ones(k, bool)
    if k < 2:
        return keep
    mid = 0.5 * (pos[src] + pos[dst])
    half = 0.5 * np.linalg.norm(pos[dst] - pos[src], axis=1)
    pairs = cKDTree(mid).query_pairs(float(2 * half.max() + tol.max()), output_type="ndarray")
    if not len(pairs):
        return keep
    i, j = pairs[:, 0], pairs[:, 1]
    share = (src[i] == src[j]) | (src[i] == dst[j]) | (dst[i] == src[j]) | (dst[i] == dst[j])
    i, j = i[~share], j[~share]
    dist = segment_distance(pos[src[i]], pos[dst[i]], pos[src[j]], pos[dst[j]])
    close = dist < np.minimum(tol[i], tol[j])
    rank = np.empty(k, np.int64)
    rank[order] = np.arange(k)
    for a, b in sorted(zip(i[close], j[close]), key=lambda p: min(rank[p[0]], rank[p[1]])):
        if keep[a] and keep[b]:
            keep[b if rank[b] > rank[a] else a] = False
    return keep
