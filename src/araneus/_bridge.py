"""Geometry of gap bridging in scan repair: thread tangents, candidate bridges and their tests.

A bridge may only continue a thread: it leaves a degree-1 thread end within a cone around
the thread's own direction, spans at most a few of the thread's local segment lengths and
lands either on a thread end facing back along the same line, on a node from which the
thread visibly continues (a junction the break reached), or on a thread it runs into at a
steep angle (a T-junction). It never runs alongside another thread (a "ladder" rung between
parallel threads) and never passes close to a thread it does not join (a crossing). All
tests are vectorised over the candidates; :mod:`araneus.clean` runs the matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ._matching import hops_exceed
from .web import WebGraph


@dataclass(frozen=True)
class BridgeRules:
    """Resolved bridging limits (lengths in web units, angles in degrees)."""

    bridge_dist: float
    gap_factor: float
    max_angle: float
    max_offset: float
    hit_angle: float
    back_angle: float
    clearance: float
    angle_weight: float
    loop_hops: int | None


def local_scale(web: WebGraph, nodes: np.ndarray, k: int = 10) -> np.ndarray:
    """(m,) local segment length at ``nodes``: median length of the ``k`` nearest edges.

    Edges are located by their midpoints; the median over a neighbourhood is robust to
    the odd very short or very long segment of a skeleton.
    """
    if web.n_edges == 0 or not len(nodes):
        return np.zeros(len(nodes))
    mid = 0.5 * (web.pos[web.edges[:, 0]] + web.pos[web.edges[:, 1]])
    kk = min(k, web.n_edges)
    _, idx = cKDTree(mid).query(web.pos[nodes], k=kk)
    idx = np.asarray(idx).reshape(len(nodes), kk)
    return np.median(web.edge_lengths[idx], axis=1)


def thread_tangents(
    web: WebGraph, ends: np.ndarray, local: np.ndarray | None = None, k: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """Outward unit directions (m, 3) at thread ends and the length they are measured over.

    The direction runs from a node back along the thread to the end: the walk follows the
    thread through degree-2 nodes and straight through junctions (onto the branch within
    30 degrees of the way it came, where there is one), for at most ``k`` segments and
    until twice the local segment length is covered; this evens out the jitter of single
    scan segments. The second array is the thread length covered (short where the thread
    stops at a junction right behind the end: such a direction is less certain).
    """
    if local is None:
        local = local_scale(web, ends)
    pos = web.pos
    prev = ends.copy()
    cur = web.adjacency.indices[web.adjacency.indptr[ends]]
    covered = np.linalg.norm(pos[cur] - pos[ends], axis=1)
    alive = np.ones(len(ends), bool)
    for _ in range(k - 1):
        go = np.flatnonzero(alive & (covered < 2.0 * local))
        if not len(go):
            break
        nxt, ok = _straight_on(web, prev[go], cur[go])
        alive[go[~ok]] = False
        go, nxt = go[ok], nxt[ok]
        covered[go] += np.linalg.norm(pos[nxt] - pos[cur[go]], axis=1)
        prev[go], cur[go] = cur[go], nxt
    u = pos[ends] - pos[cur]
    norm = np.linalg.norm(u, axis=1, keepdims=True)
    u = np.divide(u, norm, out=np.zeros_like(u), where=norm > 0)
    return u, covered


def _straight_on(web: WebGraph, prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Next node of walks ``prev -> cur`` going straight on: (next (K,), found (K,)).

    At a degree-2 node the other neighbour; at a junction the neighbour whose edge is
    within 30 degrees of the incoming direction (the straightest), else none.
    """
    a = web.adjacency
    pos = web.pos
    start, cnt = a.indptr[cur], a.indptr[cur + 1] - a.indptr[cur]
    row = np.repeat(np.arange(len(cur)), cnt)
    nb = a.indices[np.repeat(start, cnt) + np.arange(len(row)) - np.repeat(np.cumsum(cnt) - cnt, cnt)]
    din = pos[cur] - pos[prev]
    dout = pos[nb] - pos[cur[row]]
    cos = np.einsum("ij,ij->i", dout, din[row]) / np.maximum(
        np.linalg.norm(dout, axis=1) * np.linalg.norm(din[row], axis=1), 1e-300
    )
    cos[nb == prev[row]] = -np.inf
    best = np.full(len(cur), -np.inf)
    np.maximum.at(best, row, cos)
    pick = np.flatnonzero(cos == best[row])
    nxt = np.full(len(cur), -1, np.int64)
    nxt[row[pick[::-1]]] = nb[pick[::-1]]  # first of ties wins
    two = cnt == 2
    found = (nxt >= 0) & (two | (best >= np.cos(np.radians(30.0))))
    return nxt, found


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


def _branch_directions(
    web: WebGraph, nodes: np.ndarray, local: np.ndarray, k: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """For each entry of ``nodes``: (row index (M,), unit direction (M, 3)) of its branches.

    A branch starts with one of the node's edges and follows its thread through degree-2
    nodes (at most ``k`` segments, until twice ``local`` is covered); its direction points
    from the node to where the walk stopped, which evens out the jitter of short segments.
    """
    a = web.adjacency
    deg = web.degrees
    pos = web.pos
    start, cnt = a.indptr[nodes], a.indptr[nodes + 1] - a.indptr[nodes]
    row = np.repeat(np.arange(len(nodes)), cnt)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    prev = nodes[row].copy()
    cur = a.indices[np.repeat(start, cnt) + offset]
    covered = np.linalg.norm(pos[cur] - pos[prev], axis=1)
    reach = 2.0 * local[row]
    for _ in range(k - 1):
        go = (deg[cur] == 2) & (covered < reach)
        if not go.any():
            break
        s = a.indptr[cur[go]]
        c0, c1 = a.indices[s], a.indices[s + 1]
        nxt = np.where(c0 == prev[go], c1, c0)
        covered[go] += np.linalg.norm(pos[nxt] - pos[cur[go]], axis=1)
        prev[go], cur[go] = cur[go], nxt
    w = pos[cur] - pos[nodes[row]]
    norm = np.linalg.norm(w, axis=1, keepdims=True)
    return row, np.divide(w, norm, out=np.zeros_like(w), where=norm > 0)


def _target_accepts(
    web: WebGraph, tgt: np.ndarray, v: np.ndarray, local: np.ndarray, cone: np.ndarray,
    rules: BridgeRules,
) -> tuple:  # fmt: skip
    """Which bridges (arriving along ``v``) may land on the non-end nodes ``tgt``.

    Returns (continues (K,), hits (K,), ahead (K, 3)): the thread visibly continues from
    the target straight ahead (its branch ``ahead`` within the cone ``cone``, cosines
    (K,)) with nothing running back alongside the bridge, or every thread at the target
    is crossed at ``hit_angle`` or more (a T-junction onto a crossing thread). Branch
    directions are measured over about two ``local`` segment lengths.
    """
    row, w = _branch_directions(web, tgt, local)
    dot = np.einsum("ij,ij->i", w, v[row])
    k = len(tgt)
    ahead = np.full(k, -np.inf)
    back = np.full(k, -np.inf)
    steep = np.zeros(k)
    np.maximum.at(ahead, row, dot)
    np.maximum.at(back, row, -dot)
    np.maximum.at(steep, row, np.abs(dot))
    best = np.zeros((k, 3))
    first = dot == ahead[row]
    best[row[first]] = w[first]
    continues = (ahead >= cone) & (back < np.cos(np.radians(rules.back_angle)))
    hits = steep <= np.cos(np.radians(rules.hit_angle))
    return continues, hits, best


#: Sideways jitter, in local segment lengths, that a short gap's direction may show: the cone
#: widens by the angle it subtends at the gap length (a gap shorter than the segments is
#: too short to run alongside another thread).
JITTER_ALLOWANCE = 0.25

#: Two thread ends facing each other are the strongest evidence of a gap: their cones are
#: this many degrees wider and their sideways offset limit this factor larger.
PAIR_EXTRA_ANGLE = 5.0
PAIR_OFFSET = 1.0

#: A thread end whose tangent covers less than this many local segment lengths (a junction
#: right behind it) has a weak tangent; its cone widens by WEAK_EXTRA_ANGLE degrees and the
#: target's own direction (facing end, continuing branch) must confirm the line.
WEAK_COVER = 0.75
WEAK_EXTRA_ANGLE = 30.0

#: A bridge to a node the thread continues from (tier 1) spans at most this fraction of
#: the end-to-end reach (``gap_factor`` local segment lengths): one end's evidence only.
CONTINUE_REACH = 2.0 / 3.0

#: A T-hit (tier 2) spans at most this many local segment lengths (one lost segment or a
#: short drop-out), inside the plain ``max_angle`` cone: farther threads in front of a
#: broken end are not evidence that it was attached there.
HIT_REACH = 1.5

#: Matching tier of T-hits: after facing ends (0) and continuations (1), the weakest
#: evidence comes last.
HIT_TIER = 2


def _cone(rules: BridgeRules, d: np.ndarray, local: np.ndarray, extra: float = 0.0) -> np.ndarray:
    """(K,) cosine of the cone half-angle for gaps of length ``d``.

    ``max_angle`` plus ``extra`` degrees plus the jitter allowance.
    """
    widen = np.degrees(np.arctan2(JITTER_ALLOWANCE * local, d))
    return np.cos(np.radians(np.minimum(rules.max_angle + extra + widen, 89.0)))


def _offset(p: np.ndarray, u: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(K,) distance of points ``q`` from the lines through ``p`` along unit ``u``."""
    r = q - p
    return np.linalg.norm(r - np.einsum("ij,ij->i", r, u)[:, None] * u, axis=1)


def bridge_candidates(
    web: WebGraph, ends: np.ndarray, rules: BridgeRules
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Admissible bridges: (end index (K,), target node (K,), score (K,), tier (K,)).

    Lower scores are better: ``d * (1 + angle_weight * (1 - cos))`` with ``cos`` the
    alignment with the thread (averaged over both ends of an end-to-end bridge). The tier
    ranks the kind of evidence: 0 two thread ends facing each other, 1 a node from which
    the thread continues, 2 a thread hit steeply (a T-junction); lower tiers are matched
    first.
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
    if not len(ends):
        return empty
    g = _EndGeometry(web, ends)
    reach = np.minimum(rules.gap_factor * g.local, rules.bridge_dist)  # end-to-end bridges
    if reach.max() <= 0:
        return empty
    sdm = cKDTree(web.pos[ends]).sparse_distance_matrix(
        cKDTree(web.pos), float(reach.max()), output_type="ndarray"
    )
    ia, b, d = sdm["i"].astype(np.int64), sdm["j"].astype(np.int64), sdm["v"]
    ok = (d > 0) & (web.degrees[b] > 0) & (d <= reach[ia])
    ia, b, d = ia[ok], b[ok], d[ok]
    v = (web.pos[b] - web.pos[ends[ia]]) / d[:, None]
    cos_a = np.einsum("ij,ij->i", g.u[ia], v)
    ok = cos_a >= _cone(rules, d, g.local[ia], PAIR_EXTRA_ANGLE + g.extra[ia])
    ia, b, d, v, cos_a = ia[ok], b[ok], d[ok], v[ok], cos_a[ok]
    jb = g.index[b]
    is_end = jb >= 0
    keep, cos, tier = np.zeros(len(ia), bool), cos_a.copy(), np.zeros(len(ia), np.int64)
    pe = np.flatnonzero(is_end)
    keep[pe], cos[pe] = _pair_rules(web, g, ia[pe], jb[pe], d[pe], v[pe], cos_a[pe], rules)
    ne = np.flatnonzero(~is_end)
    keep[ne], tier[ne] = _node_rules(web, g, ia[ne], b[ne], d[ne], v[ne], cos_a[ne], rules)
    ia, b, d, cos, tier = ia[keep], b[keep], d[keep], cos[keep], tier[keep]
    ia, b, d, cos, tier = _own_fragment_rule(web, ends, ia, b, d, cos, tier, rules)
    clear = clear_of_edges(web, ends[ia], b, rules.clearance * g.local[ia])
    ia, b, d, cos, tier = ia[clear], b[clear], d[clear], cos[clear], tier[clear]
    return ia, b, d * (1.0 + rules.angle_weight * (1.0 - cos)), tier


class _EndGeometry:
    """Per thread end: local segment length, outward tangent, and how sure the tangent is.

    A tangent measured over less than :data:`WEAK_COVER` local segment lengths (a junction
    right behind the end) is *weak*: its cone widens by :data:`WEAK_EXTRA_ANGLE`, and the
    bridge must then be confirmed by the target's own thread direction.
    """

    def __init__(self, web: WebGraph, ends: np.ndarray):
        self.ends = ends
        self.local = local_scale(web, ends)
        self.u, covered = thread_tangents(web, ends, self.local)
        self.weak = covered < WEAK_COVER * self.local
        self.extra = np.where(self.weak, WEAK_EXTRA_ANGLE, 0.0)
        self.index = np.full(web.n_nodes, -1, np.int64)
        self.index[ends] = np.arange(len(ends))


def _pair_rules(web, g: _EndGeometry, ia, jb, d, v, cos_a, rules: BridgeRules):
    """End-to-end bridges: both ends face each other on one line. Returns (keep, cos)."""
    cos_b = -np.einsum("ij,ij->i", g.u[jb], v)
    both_weak = g.weak[ia] & g.weak[jb]
    extra_a = np.where(both_weak, 0.0, g.extra[ia])
    extra_b = np.where(both_weak, 0.0, g.extra[jb])
    pa, pb = web.pos[g.ends[ia]], web.pos[g.ends[jb]]
    off_a = np.where(g.weak[ia], np.inf, _offset(pa, g.u[ia], pb))
    off_b = np.where(g.weak[jb], np.inf, _offset(pb, g.u[jb], pa))
    off = np.where(both_weak, np.minimum(_offset(pa, g.u[ia], pb), _offset(pb, g.u[jb], pa)),
                   np.minimum(off_a, off_b))  # fmt: skip
    scale = 0.5 * (g.local[ia] + g.local[jb])
    keep = (
        (cos_a >= _cone(rules, d, g.local[ia], PAIR_EXTRA_ANGLE + extra_a))
        & (cos_b >= _cone(rules, d, g.local[jb], PAIR_EXTRA_ANGLE + extra_b))
        & (off <= PAIR_OFFSET * rules.max_offset * scale)
    )
    return keep, 0.5 * (cos_a + cos_b)


def _node_rules(web, g: _EndGeometry, ia, b, d, v, cos_a, rules: BridgeRules):
    """Bridges onto other nodes: a continuation or a steep T-hit. Returns (keep, tier)."""
    local = g.local[ia]
    plain = _cone(rules, d, local)
    cont, hit, ahead = _target_accepts(web, b, v, local, plain, rules)
    pa, pb = web.pos[g.ends[ia]], web.pos[b]
    # on the thread's line: seen from the end (if its tangent is sure) or from the target
    off = np.minimum(np.where(g.weak[ia], np.inf, _offset(pa, g.u[ia], pb)), _offset(pb, ahead, pa))
    cont &= (off <= rules.max_offset * local) & (d <= CONTINUE_REACH * rules.gap_factor * local)
    cont &= cos_a >= _cone(rules, d, local, g.extra[ia])
    # a T-hit invents a junction unless a surely aimed end points straight at a near thread
    hit &= ~g.weak[ia] & (d <= HIT_REACH * local) & (cos_a >= np.cos(np.radians(rules.max_angle)))
    hit &= _offset(pa, g.u[ia], pb) <= rules.max_offset * local
    return cont | hit, np.where(cont, 1, HIT_TIER)


def _own_fragment_rule(web, ends, ia, b, d, cos, tier, rules: BridgeRules):
    """Drop targets in the end's own fragment unless more than ``loop_hops`` edges away."""
    comp = web.component_labels
    same = comp[ends[ia]] == comp[b]
    ok = ~same
    if rules.loop_hops is not None:
        sel = np.flatnonzero(same)
        ok[sel] = hops_exceed(web, ends[ia[sel]], b[sel], rules.loop_hops)
    return ia[ok], b[ok], d[ok], cos[ok], tier[ok]


def clear_of_edges(web: WebGraph, a: np.ndarray, b: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """(K,) True where segment ``a-b`` keeps ``tol`` away from every edge not touching a or b."""
    k = len(a)
    if k == 0 or web.n_edges == 0:
        return np.ones(k, bool)
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
    cnt = np.fromiter((len(x) for x in lists), np.int64, k)
    row = np.repeat(np.arange(k), cnt)
    col = idx_short[np.concatenate([np.asarray(x, np.int64) for x in lists])] if cnt.sum() else (
        np.zeros(0, np.int64)
    )
    idx_long = np.flatnonzero(~short)
    if len(idx_long):
        row = np.concatenate([row, np.repeat(np.arange(k), len(idx_long))])
        col = np.concatenate([col, np.tile(idx_long, k)])
    near = _near_nodes(web, a, b)  # (K, M): a, b and their neighbours
    touch = (e[col, 0, None] == near[row]).any(axis=1) | (e[col, 1, None] == near[row]).any(axis=1)
    row, col = row[~touch], col[~touch]
    dist = segment_distance(qa[row], qb[row], p0[col], p1[col])
    bad = np.zeros(k, bool)
    bad[row[dist < tol[row]]] = True
    return ~bad


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
