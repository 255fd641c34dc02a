"""Geometry of gap bridging in scan repair: thread tangents and the candidate bridges.

A bridge may only continue a thread: it leaves a degree-1 thread end within a cone around
the thread's own direction, spans at most a few of the thread's local segment lengths and
lands on one of four kinds of target, in order of the evidence they give:

* ``PAIR``: another thread end facing back along the same line (both ends' cones);
* ``CONTINUE``: a node from which a branch carries the line on (both lines, the end's and
  the branch's, pass within a tolerance of the other point: the break reached a junction);
* ``HIT``: a thread the end is aimed at (its line passes through the node), with no thread
  there running back alongside the bridge (a T-junction that lost its stem);
* ``END_HIT``: the same onto a thread *end* whose own thread crosses the bridge steeply
  (the stub left where a junction lost its through-thread).

Offsets are measured in local segment lengths and may grow with the gap (the scatter of
jittered scan threads); every candidate gets a score (gap length plus sideways misfit plus
the penalty of its kind). A bridge never runs alongside another thread (a "ladder" rung
between parallel threads) nor passes close to a thread or node it does not join
(:mod:`araneus.repair._clearance`); an end whose best bridge is refused only because a
thread passes in its way is marked *blocked* and left open (its weaker alternatives would
be guesses). All tests are vectorised over the candidates; :mod:`araneus.repair._matching`
chooses among them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.spatial import cKDTree

from ..web import WebGraph
from ._clearance import edge_clearance, node_clearance
from ._matching import hops_exceed


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


#: Segments of a thread end's own thread whose median length is its own scale.
OWN_SEGMENTS = 3


def own_scale(web: WebGraph, ends: np.ndarray, k: int = OWN_SEGMENTS) -> np.ndarray:
    """(m,) median length of the last ``k`` segments of each thread end's own thread.

    The walk follows the thread from the end through degree-2 nodes; it stops at a
    junction and where the polyline turns by more than :data:`OWN_TURN` degrees (a
    corner: another thread). A thread that crosses a denser part of the web (a barrier
    thread passing the fine mesh of a sheet) keeps its own, longer segments: its tangent
    is measured over its own segments, not over the scale of the mesh around it.
    """
    m = len(ends)
    if not m:
        return np.zeros(0)
    a, pos, deg = web.adjacency, web.pos, web.degrees
    lens = np.full((m, k), np.nan)
    prev = ends.copy()
    cur = a.indices[a.indptr[ends]]
    lens[:, 0] = np.linalg.norm(pos[cur] - pos[prev], axis=1)
    alive = np.ones(m, bool)
    for j in range(1, k):
        alive &= deg[cur] == 2
        go = np.flatnonzero(alive)
        if not len(go):
            break
        st = a.indptr[cur[go]]
        c0, c1 = a.indices[st], a.indices[st + 1]
        nxt = np.where(c0 == prev[go], c1, c0)
        din, dout = pos[cur[go]] - pos[prev[go]], pos[nxt] - pos[cur[go]]
        step = np.linalg.norm(dout, axis=1)
        norm = np.maximum(np.linalg.norm(din, axis=1) * step, 1e-300)
        cos = np.einsum("ij,ij->i", din, dout) / norm
        turn = cos < np.cos(np.radians(OWN_TURN))
        alive[go[turn]] = False
        go, nxt, step = go[~turn], nxt[~turn], step[~turn]
        lens[go, j] = step
        prev[go], cur[go] = cur[go], nxt
    return np.nanmedian(lens, axis=1)


#: A thread end's own thread ends where its polyline turns by more than this (degrees).
OWN_TURN = 45.0


def thread_tangents(
    web: WebGraph,
    ends: np.ndarray,
    local: np.ndarray | None = None,
    k: int = 6,
    reach: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Outward unit directions (m, 3) at thread ends and the length they are measured over.

    The direction runs from a node back along the thread to the end: the walk follows the
    thread through degree-2 nodes and straight through junctions (onto the branch within
    30 degrees of the way it came, where there is one), for at most ``k`` segments and
    until twice the local segment length is covered; this evens out the jitter of single
    scan segments. The walk is cut back to its longest stretch whose nodes all lie within
    :data:`STRAIGHT_TOL` local lengths of the chord from the end (a thread turning a
    corner, where a junction lost its other branches, would bend the direction). The
    second array is the thread length covered (short where the thread stops at a junction
    or corner right behind the end: such a direction is less certain). ``reach`` (m,), if
    given, replaces ``local`` as the unit of the length covered (twice it), e.g. the
    thread's own segment length where that is longer (:func:`own_scale`).
    """
    if local is None:
        local = local_scale(web, ends)
    span = 2.0 * (local if reach is None else np.maximum(local, reach))
    pos = web.pos
    m = len(ends)
    path = np.full((m, k + 1), -1, np.int64)  # nodes walked, end first
    path[:, 0] = ends
    prev = ends.copy()
    cur = web.adjacency.indices[web.adjacency.indptr[ends]]
    path[:, 1] = cur
    covered = np.zeros((m, k + 1))
    covered[:, 1] = np.linalg.norm(pos[cur] - pos[ends], axis=1)
    alive = np.ones(m, bool)
    for step in range(2, k + 1):
        go = np.flatnonzero(alive & (covered[:, step - 1] < span))
        alive[:] = False
        if not len(go):
            break
        nxt, ok = _straight_on(web, prev[go], cur[go])
        go, nxt = go[ok], nxt[ok]
        alive[go] = True
        path[go, step] = nxt
        covered[go, step] = covered[go, step - 1] + np.linalg.norm(pos[nxt] - pos[cur[go]], axis=1)
        prev[go], cur[go] = cur[go], nxt
    last = _straight_prefix(pos, path, STRAIGHT_TOL * local)
    far = path[np.arange(m), last]
    u = pos[ends] - pos[far]
    norm = np.linalg.norm(u, axis=1, keepdims=True)
    u = np.divide(u, norm, out=np.zeros_like(u), where=norm > 0)
    return u, covered[np.arange(m), last]


#: Nodes of the stretch a thread end's direction is measured over must lie within this many
#: local segment lengths of the chord: scan jitter and sag bend a polyline by a few tenths
#: of a segment, a corner (two threads that met at a junction which lost its other
#: branches) by a segment or more.
STRAIGHT_TOL = 0.6


def _straight_prefix(pos: np.ndarray, path: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """(m,) index of the farthest node of each walk ``path`` (m, K; -1 padded, >= 2 nodes)
    such that every node before it lies within ``tol`` of the chord from ``path[:, 0]``."""
    m, kk = path.shape
    p = pos[np.maximum(path, 0)]  # (m, K, 3)
    valid = path >= 0
    last = np.ones(m, np.int64)
    for j in range(2, kk):
        chord = p[:, j] - p[:, 0]
        cn = np.linalg.norm(chord, axis=1, keepdims=True)
        unit = np.divide(chord, cn, out=np.zeros_like(chord), where=cn > 0)
        rel = p[:, 1:j] - p[:, None, 0]  # interior nodes
        lat = np.linalg.norm(rel - np.einsum("mij,mj->mi", rel, unit)[..., None] * unit[:, None], axis=2)
        ok = valid[:, j] & (lat.max(axis=1) <= tol) & (last == j - 1)
        last[ok] = j
    return last


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


#: Sideways jitter, in local segment lengths, that a short gap's direction may show: the cone
#: widens by the angle it subtends at the gap length (a gap shorter than the segments is
#: too short to run alongside another thread).
JITTER_ALLOWANCE = 0.25

#: Two thread ends facing each other are the strongest evidence of a gap: their cones are
#: this many degrees wider.
PAIR_EXTRA_ANGLE = 5.0

#: A thread end whose tangent covers less than this many local segment lengths (a junction
#: right behind it) has a weak tangent; its cone widens by WEAK_EXTRA_ANGLE degrees and the
#: target's own direction (facing end, continuing branch) must confirm the line.
WEAK_COVER = 0.75
WEAK_EXTRA_ANGLE = 30.0

#: A bridge onto a node the thread continues from spans at most this fraction of the
#: end-to-end reach (``gap_factor`` local segment lengths).
CONTINUE_REACH = 2.0 / 3.0

#: A continuation from a weak tangent (only the target's branch gives the line) spans at
#: most this many local segment lengths.
WEAK_CONTINUE_REACH = 2.0

#: A T-hit (a bridge onto a thread that does not continue ahead) spans at most this many
#: local segment lengths.
HIT_REACH = 2.5

#: Sideways offset allowed for bridges onto nodes, in local segment lengths, at a gap of
#: ``s`` local segment lengths: ``base + slope * s`` (the measured scatter of true gaps in
#: jittered scan-like threads: lateral noise of the nodes plus the tangent's angular error;
#: always capped by ``max_offset``). A continuation needs both lines (the end's and the
#: continuing branch's) within :data:`CONTINUE_OFFSET`; a T-hit, which has only the end's
#: line as evidence, within the tighter :data:`HIT_OFFSET`.
CONTINUE_OFFSET = (0.3, 0.25)
HIT_OFFSET = (0.2, 0.15)

#: A T-hit whose surroundings are open (no thread it does not join passes within
#: :data:`OPEN_CLEARANCE` x ``clearance`` of it) may miss its line by this wider
#: ``base + slope * s``: where no other thread passes, the one the end is aimed at cannot be
#: a thread crossing its line by chance, as so many do in a dense 3-D tangle.
HIT_OFFSET_OPEN = (0.25, 0.2)
OPEN_CLEARANCE = 4.0

#: Score penalties (in local segment lengths) of the weaker kinds of evidence: a T-hit has
#: one line instead of two; a T-hit onto a thread *end* (whose own thread crosses the
#: bridge at 60-120 degrees: the stub left where a junction lost its through-thread) more.
HIT_PENALTY = 0.3
END_HIT_PENALTY = 0.6
END_HIT_ANGLES = (60.0, 120.0)

#: No node next to the target (within two edges) may lie within this fraction of
#: ``clearance`` of a bridge: the bridge would run along the target's own thread and should
#: have ended at that node. Facing ends may pass a crossing thread (3-D webs cross without
#: junctions) if no node of it lies this close, and keep only PAIR_PARALLEL_CLEARANCE x
#: ``clearance`` from threads running alongside.
NODE_CLEARANCE = 0.8
PAIR_PARALLEL_CLEARANCE = 0.4

#: Two sure thread ends facing each other are the strongest evidence: in the matching their
#: bridge ranks as if this many local segment lengths shorter.
PAIR_BONUS = 2.0

#: Kinds of bridge, in order of evidence (see the module docstring).
PAIR, CONTINUE, HIT, END_HIT = 0, 1, 2, 3


def _cone(rules: BridgeRules, d: np.ndarray, local: np.ndarray, extra=0.0) -> np.ndarray:
    """(K,) cosine of the cone half-angle for gaps of length ``d``.

    ``max_angle`` plus ``extra`` degrees plus the jitter allowance.
    """
    widen = np.degrees(np.arctan2(JITTER_ALLOWANCE * local, d))
    return np.cos(np.radians(np.minimum(rules.max_angle + extra + widen, 89.0)))


def _offset(p: np.ndarray, u: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(K,) distance of points ``q`` from the lines through ``p`` along unit ``u``."""
    r = q - p
    return np.linalg.norm(r - np.einsum("ij,ij->i", r, u)[:, None] * u, axis=1)


def _line_tol(rules: BridgeRules, s: np.ndarray, tol: tuple[float, float]) -> np.ndarray:
    """(K,) allowed sideways offset (local lengths) at gaps of ``s`` local lengths."""
    return np.minimum(tol[0] + tol[1] * s, rules.max_offset)


@dataclass
class Candidates:
    """Admissible bridges of :func:`bridge_candidates`, one entry per (end, target).

    ``end`` indexes the thread ends, ``target`` is a node; ``kind`` is :data:`PAIR`,
    :data:`CONTINUE`, :data:`HIT` or :data:`END_HIT`; ``score`` (lower is better) is the gap
    in local segment lengths plus ``angle_weight`` times the sideways misfit (plus the
    penalty of the weaker kinds); ``sure`` is False where a tangent involved is weak;
    ``local`` is the end's local segment length (web units); ``blocked`` is True for every
    candidate of an end whose best-ranked bridge was refused for a thread passing in its way
    (:func:`_blocked_ends`: the end is to stay open). All arrays are (K,).
    """

    end: np.ndarray
    target: np.ndarray
    kind: np.ndarray
    score: np.ndarray
    sure: np.ndarray
    local: np.ndarray
    blocked: np.ndarray

    @property
    def exclusive(self) -> np.ndarray:
        """(K,) the bridge uses up its target end (a facing pair)."""
        return self.kind == PAIR

    @property
    def sure_pair(self) -> np.ndarray:
        """(K,) a facing pair of two sure (not weak) tangents: the strongest evidence."""
        return (self.kind == PAIR) & self.sure

    @property
    def rank(self) -> np.ndarray:
        """(K,) matching order (lower first): the score, less :data:`PAIR_BONUS` for sure
        pairs."""
        return self.score - np.where(self.sure_pair, PAIR_BONUS, 0.0)

    def take(self, mask: np.ndarray) -> Candidates:
        """The candidates selected by ``mask`` (boolean or indices)."""
        return Candidates(*(getattr(self, f.name)[mask] for f in fields(self)))


def bridge_candidates(web: WebGraph, ends: np.ndarray, rules: BridgeRules) -> Candidates:
    """Admissible bridges from the thread ends ``ends`` of ``web``, with kind and score.

    Every node within reach of an end and inside its (widened) cone is tested: against
    another end as a facing pair, against another end as a T-hit onto its stub, and against
    other nodes as a continuation or a T-hit; cheap geometric tests run first, clearance
    tests only on the survivors. Candidates that fail the clearance tests are dropped, but
    mark their end *blocked* where one of them ranked best and was refused only for a thread
    passing in its way.
    """
    z = np.zeros(0, np.int64)
    empty = Candidates(z, z, z, np.zeros(0), np.zeros(0, bool), np.zeros(0), np.zeros(0, bool))
    if not len(ends):
        return empty
    g = _EndGeometry(web, ends)
    reach = np.minimum(rules.gap_factor * g.local, rules.bridge_dist)
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
    c = _Cand(ia[ok], b[ok], d[ok], v[ok], cos_a[ok], g)
    kind = np.full(len(c.ia), -1, np.int64)
    misfit = np.zeros(len(c.ia))
    open_only = np.zeros(len(c.ia), bool)
    jb = g.index[c.b]
    pe = np.flatnonzero(jb >= 0)
    kind[pe], misfit[pe] = _end_rules(web, g, c, pe, jb[pe], rules)
    ne = np.flatnonzero(jb < 0)
    kind[ne], misfit[ne], open_only[ne] = _node_rules(web, g, c, ne, rules)
    keep = np.flatnonzero(kind >= 0)
    keep = keep[_own_fragment_ok(web, ends[c.ia[keep]], c.b[keep], rules)]
    s = c.d[keep] / g.local[c.ia[keep]]
    penalty = np.select([kind[keep] == HIT, kind[keep] == END_HIT], [HIT_PENALTY, END_HIT_PENALTY], 0.0)
    score = s + rules.angle_weight * (misfit[keep] + penalty)
    sure = ~g.weak[c.ia[keep]] & ((jb[keep] < 0) | ~g.weak[np.maximum(jb[keep], 0)])
    rank = score - np.where((kind[keep] == PAIR) & sure, PAIR_BONUS, 0.0)
    clear, hidden = _clear(web, g, c, keep, kind[keep], rules)
    clear &= _open(web, g, c, keep, open_only[keep], rules)
    hidden &= ~open_only[keep]  # a T-hit of the wider tolerance is too weak to hold an end open
    blocked = _blocked_ends(c.ia[keep], rank, clear, hidden, len(ends))
    keep, score, sure = keep[clear], score[clear], sure[clear]
    return Candidates(c.ia[keep], c.b[keep], kind[keep], score, sure, g.local[c.ia[keep]],
                      blocked[c.ia[keep]])  # fmt: skip


#: An end whose best-ranked bridge is refused for passing too close to another thread
#: (:func:`_clear`) is left open when its best admissible bridge ranks worse than that
#: one by more than this (local segment lengths): the thread in the way hides where the
#: end's thread went on, and a weaker alternative is a guess.
BLOCKED_MARGIN = 0.0


def _blocked_ends(end: np.ndarray, rank: np.ndarray, clear: np.ndarray, hidden: np.ndarray,
                  n_ends: int) -> np.ndarray:  # fmt: skip
    """(n_ends,) True for ends whose best candidate by ``rank`` is ``hidden`` (refused for
    a thread passing in its way) and whose best ``clear`` candidate ranks more than
    :data:`BLOCKED_MARGIN` worse."""
    best_all = np.full(n_ends, np.inf)
    np.minimum.at(best_all, end[clear | hidden], rank[clear | hidden])
    best_clear = np.full(n_ends, np.inf)
    np.minimum.at(best_clear, end[clear], rank[clear])
    return best_clear > best_all + BLOCKED_MARGIN


class _EndGeometry:
    """Per thread end: local segment length, outward tangent, and how sure the tangent is.

    A tangent measured over less than :data:`WEAK_COVER` local segment lengths (a junction
    right behind the end) is *weak*: its cone widens by :data:`WEAK_EXTRA_ANGLE`, and the
    bridge must then be confirmed by the target's own thread direction.
    """

    def __init__(self, web: WebGraph, ends: np.ndarray):
        self.ends = ends
        self.local = local_scale(web, ends)
        self.u, covered = thread_tangents(web, ends, self.local, reach=own_scale(web, ends))
        self.weak = covered < WEAK_COVER * self.local
        self.extra = np.where(self.weak, WEAK_EXTRA_ANGLE, 0.0)
        self.index = np.full(web.n_nodes, -1, np.int64)
        self.index[ends] = np.arange(len(ends))


@dataclass
class _Cand:
    """Raw candidates: end index, target node, gap length, unit direction, cosine to tangent."""

    ia: np.ndarray
    b: np.ndarray
    d: np.ndarray
    v: np.ndarray
    cos_a: np.ndarray
    g: _EndGeometry

    def offsets(self, web: WebGraph, sel: np.ndarray) -> np.ndarray:
        """(k,) offset of the targets ``sel`` from their end's line, in local lengths."""
        i = self.ia[sel]
        return _offset(web.pos[self.g.ends[i]], self.g.u[i], web.pos[self.b[sel]]) / self.g.local[i]


def _end_rules(web, g: _EndGeometry, c: _Cand, sel, jb, rules: BridgeRules):
    """Bridges onto another thread end: a facing pair, or a T-hit onto its stub.

    Returns (kind (k,), misfit (k,)); kind -1 = refused. A pair needs both ends' cones
    (:data:`PAIR_EXTRA_ANGLE` wider) and the target within ``max_offset`` of either end's
    line; its misfit is the mean of both offsets (the confirming end's only, when the
    other tangent is weak). A T-hit onto an end needs a surely aimed end, the target's
    thread crossing at :data:`END_HIT_ANGLES` and the hit tolerances.
    """
    ia, d, v = c.ia[sel], c.d[sel], c.v[sel]
    local = g.local[ia]
    s = d / local
    cos_b = -np.einsum("ij,ij->i", g.u[jb], v)
    both_weak = g.weak[ia] & g.weak[jb]
    extra_a = np.where(both_weak, 0.0, g.extra[ia])
    extra_b = np.where(both_weak, 0.0, g.extra[jb])
    pa, pb = web.pos[g.ends[ia]], web.pos[g.ends[jb]]
    raw_a = _offset(pa, g.u[ia], pb) / local
    raw_b = _offset(pb, g.u[jb], pa) / local
    off_a = np.where(g.weak[ia] & ~both_weak, np.inf, raw_a)
    off_b = np.where(g.weak[jb] & ~both_weak, np.inf, raw_b)
    pair = (
        (c.cos_a[sel] >= _cone(rules, d, local, PAIR_EXTRA_ANGLE + extra_a))
        & (cos_b >= _cone(rules, d, g.local[jb], PAIR_EXTRA_ANGLE + extra_b))
        & (np.minimum(off_a, off_b) <= rules.max_offset)
    )
    misfit = np.where(g.weak[ia], raw_b, np.where(g.weak[jb], raw_a, 0.5 * (raw_a + raw_b)))
    lo, hi = np.cos(np.radians(END_HIT_ANGLES))
    stub = ~g.weak[ia] & ~g.weak[jb] & (cos_b <= lo) & (cos_b >= hi)
    hit = ~pair & stub & _hit_aim(rules, c.cos_a[sel], raw_a, s)
    kind = np.where(pair, PAIR, np.where(hit, END_HIT, -1))
    return kind, np.where(pair, misfit, raw_a)


def _hit_aim(rules: BridgeRules, cos_a, off_a, s, tol=HIT_OFFSET) -> np.ndarray:
    """(k,) a T-hit needs the end aimed at the target: within ``max_angle``, the hit
    tolerance and :data:`HIT_REACH`."""
    return (
        (cos_a >= np.cos(np.radians(rules.max_angle)))
        & (off_a <= _line_tol(rules, s, tol))
        & (s <= HIT_REACH)
    )


def _node_rules(web, g: _EndGeometry, c: _Cand, sel, rules: BridgeRules):
    """Bridges onto nodes that are not thread ends: a continuation or a T-hit.

    Returns (kind (k,), misfit (k,)). A continuation: a branch of the target continues
    ahead within the plain cone, no branch runs back within ``back_angle`` of the bridge,
    and both lines (the end's, unless weak, and the branch's) pass within
    :data:`CONTINUE_OFFSET` of the other point; misfit = mean of the two offsets. A T-hit:
    a surely aimed end (:func:`_hit_aim`) and no branch running back within ``hit_angle``;
    misfit = the end's offset.
    """
    ia, b, d, v = c.ia[sel], c.b[sel], c.d[sel], c.v[sel]
    local = g.local[ia]
    s = d / local
    weak = g.weak[ia]
    row, w = _branch_directions(web, b, local)
    dot = np.einsum("ij,ij->i", w, v[row])
    k = len(sel)
    ahead = np.full(k, -np.inf)
    np.maximum.at(ahead, row, dot)
    best = np.zeros((k, 3))
    first = dot == ahead[row]
    best[row[first]] = w[first]
    pa, pb = web.pos[g.ends[ia]], web.pos[b]
    off_a = c.offsets(web, sel)
    off_b = _offset(pb, best, pa) / local
    tol = _line_tol(rules, s, CONTINUE_OFFSET)
    back = np.full(k, -np.inf)  # the branch closest to running back along the bridge
    np.maximum.at(back, row, -dot)
    back_c = back >= np.cos(np.radians(rules.back_angle))
    back_h = back >= np.cos(np.radians(rules.hit_angle))
    cont = (
        (c.cos_a[sel] >= _cone(rules, d, local, g.extra[ia]))
        & (ahead >= _cone(rules, d, local))
        & ~back_c
        & ((off_a <= tol) | weak)
        & ((off_b <= tol) | (~weak & _on_arc(g.u[ia], v, best, s)))
        & (s <= np.where(weak, WEAK_CONTINUE_REACH, CONTINUE_REACH * rules.gap_factor))
    )
    hit = ~cont & ~weak & _hit_aim(rules, c.cos_a[sel], off_a, s, HIT_OFFSET_OPEN) & ~back_h
    open_only = hit & ~_hit_aim(rules, c.cos_a[sel], off_a, s)
    misfit = np.where(cont, np.where(weak, off_b, 0.5 * (off_a + off_b)), off_a)
    return np.where(cont, CONTINUE, np.where(hit, HIT, -1)), misfit, open_only


def _on_arc(u: np.ndarray, v: np.ndarray, ahead: np.ndarray, s: np.ndarray) -> np.ndarray:
    """(K,) the branch ``ahead`` continues the circular arc that leaves the end along ``u``
    and passes through the target (direction ``v``) within :data:`ARC_ANGLE`.

    A thread curving steadily (an orb's spiral) misses the far line by more than the
    offset tolerance over a long gap; a thread stepping sideways (two parallel lines, as
    at staggered attachments) turns back and leaves the arc by twice its step angle.
    """
    pred = 2.0 * np.einsum("ij,ij->i", u, v)[:, None] * v - u
    cos = np.einsum("ij,ij->i", pred, ahead)
    widen = np.degrees(np.arctan2(2 * JITTER_ALLOWANCE, s))  # chord error, both ends
    return cos >= np.cos(np.radians(np.minimum(ARC_ANGLE + widen, 89.0)))


#: Largest angle (degrees) between a continuing branch and the arc predicted from the
#: end's tangent (plus the jitter allowance of the chord) for a curved continuation.
ARC_ANGLE = 20.0


def _own_fragment_ok(web: WebGraph, src: np.ndarray, dst: np.ndarray, rules: BridgeRules):
    """(K,) False for targets in the end's own fragment within ``loop_hops`` edges."""
    comp = web.component_labels
    same = comp[src] == comp[dst]
    ok = ~same
    if rules.loop_hops is not None:
        sel = np.flatnonzero(same)
        ok[sel] = hops_exceed(web, src[sel], dst[sel], rules.loop_hops)
    return ok


def _clear(web: WebGraph, g: _EndGeometry, c: _Cand, keep, kind, rules: BridgeRules):
    """Clearance of the candidates ``keep``: away from foreign edges and nodes.

    Every bridge keeps :data:`NODE_CLEARANCE` x ``clearance`` from the nodes next to its
    target; bridges onto nodes keep ``clearance`` from every edge they do not touch;
    facing pairs only :data:`PAIR_PARALLEL_CLEARANCE` x ``clearance`` from edges running
    alongside, and may cross a steeper thread if none of its nodes lies within the node
    clearance (lengths in the end's local segment lengths).

    Returns (ok (k,), hidden (k,)): ``hidden`` marks candidates refused only because a
    thread passes close to them with no node near the bridge (a thread in the way, not a
    junction the bridge should have ended at).
    """
    ia, b = c.ia[keep], c.b[keep]
    src = g.ends[ia]
    tol = rules.clearance * g.local[ia]
    nodes_ok = node_clearance(web, src, b, tol * NODE_CLEARANCE, target_only=True)
    par, steep = edge_clearance(web, src, b, tol)
    pair = kind == PAIR
    edges_ok = np.where(pair, par >= PAIR_PARALLEL_CLEARANCE, (par >= 1.0) & (steep >= 1.0))
    cross = nodes_ok & edges_ok & pair & (steep < 1.0)
    if cross.any():
        idx = np.flatnonzero(cross)
        nodes_ok[idx] = node_clearance(web, src[idx], b[idx], tol[idx] * NODE_CLEARANCE)
    return nodes_ok & edges_ok, nodes_ok & ~edges_ok


def _open(web: WebGraph, g: _EndGeometry, c: _Cand, keep, need, rules: BridgeRules):
    """(k,) False for the candidates ``keep`` that ``need`` open surroundings and lack them:
    a thread they do not join passes within :data:`OPEN_CLEARANCE` x ``clearance``."""
    ok = np.ones(len(keep), bool)
    idx = np.flatnonzero(need)
    if len(idx):
        ia = c.ia[keep[idx]]
        tol = OPEN_CLEARANCE * rules.clearance * g.local[ia]
        par, steep = edge_clearance(web, g.ends[ia], c.b[keep[idx]], tol)
        ok[idx] = (par >= 1.0) & (steep >= 1.0)
    return ok
