"""Geometric joining of placed pieces: merging, stitching and bridging, in chunks.

Pieces are processed in placement order, a chunk of consecutive pieces at a time. For each
chunk one :class:`scipy.spatial.cKDTree` is built over the chunk's nodes plus the surviving
nodes of the last ``window`` pieces before it (and, on a closed curve, of the first pieces,
which the last ones meet). One radius query gives both kinds of candidate pairs:

* *merge* pairs (distance <= ``tol``) between pieces at most ``window`` apart: a node of a
  later piece merges into the nearest *surviving* node of an earlier piece, so every node
  stays within ``tol`` of where its piece put it. Survival is resolved by a short
  fixed-point iteration (a node survives iff no earlier candidate survives), which gives the
  same answer as processing piece by piece;
* *stitch* pairs (``tol`` < distance <= ``stitch_radius``) between surviving nodes of
  different pieces at most ``window`` apart whose degree (from the pieces' threads, merges
  included) is below ``max_degree``: mutual nearest neighbours are joined by a stitching
  thread, so each node gets at most one stitch and no stitch exceeds the degree limit.
  Candidate pairs wait in a small pending set until every candidate and degree involved is
  final (about two windows of pieces later), so the decisions do not depend on the chunk
  size.

Results are accumulated as arrays per chunk; nothing is rebuilt globally per step. After the
last chunk, :func:`bridge_components` joins any remaining components to the largest one by
their shortest links (degree limits respected where any node has room), once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..web import thread_code

STITCH = thread_code("stitch")


@dataclass
class _Old:
    """Surviving nodes carried between chunks: global ids, positions, piece indices."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pos: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    piece: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def select(self, mask: np.ndarray) -> _Old:
        return _Old(self.ids[mask], self.pos[mask], self.piece[mask])

    @staticmethod
    def cat(parts: list[_Old]) -> _Old:
        return _Old(
            np.concatenate([p.ids for p in parts]),
            np.concatenate([p.pos for p in parts]),
            np.concatenate([p.piece for p in parts]),
        )


class Joiner:
    """Accumulates placed pieces chunk by chunk, merging and stitching as it goes.

    Parameters
    ----------
    n_pieces
        Total number of placements K (for cyclic piece distances on closed curves).
    n_placed
        Total number of placed nodes (upper bound of the result's node count).
    closed
        Whether the last pieces meet the first ones.
    window
        Pieces at most this far apart (cyclically if closed) are joined.
    tol, stitch_radius, max_degree
        See :func:`araneus.assembly.assemble`.
    """

    def __init__(
        self,
        n_pieces: int,
        n_placed: int,
        closed: bool,
        window: int,
        tol: float,
        stitch_radius: float,
        max_degree: int,
    ):
        self.k = n_pieces
        self.closed = closed
        self.window = window
        self.tol = tol
        self.radius = max(stitch_radius, tol)
        self.stitch_radius = stitch_radius
        self.max_degree = max_degree
        self.deg = np.zeros(n_placed, dtype=np.int64)  # degrees from piece edges only
        self.best = np.full(n_placed, -1, dtype=np.int64)  # nearest eligible stitch partner
        self.best_d = np.full(n_placed, np.inf)
        self.decided = np.zeros(n_placed, dtype=bool)
        self.pending = (np.zeros(0, np.int64),) * 4 + (np.zeros(0),)  # u, v, piece u, piece v, d
        self.next_id = 0
        self.pos: list[np.ndarray] = []
        self.node_piece: list[np.ndarray] = []
        self.edges: list[np.ndarray] = []
        self.threads: list[np.ndarray] = []
        self.stitched: list[np.ndarray] = []
        self.tail = _Old()
        self.head = _Old()
        self.merged = 0
        self.max_displacement = 0.0

    # ------------------------------------------------------------------ helpers
    def _piece_dist(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = np.abs(a - b)
        return np.minimum(d, self.k - d) if self.closed else d

    # ------------------------------------------------------------------ one chunk
    def add_chunk(
        self,
        pos: np.ndarray,
        piece: np.ndarray,
        edges: np.ndarray,
        threads: np.ndarray,
        p0: int,
        p1: int,
    ) -> None:
        """Join the placed nodes of pieces ``[p0, p1)``.

        Parameters
        ----------
        pos : (m, 3) placed node positions.
        piece : (m,) placement index of each node.
        edges : (e, 2) edges as indices into ``pos``.
        threads : (e,) int8 thread codes.
        """
        w = self.window
        old_parts = [self.tail]
        if self.closed and p1 > self.k - w and p0 - w > 0:
            old_parts.append(self.head.select(self.head.piece < p0 - w))
        old = _Old.cat(old_parts)
        q = len(old.ids)
        y = np.concatenate([old.pos, pos])
        py = np.concatenate([old.piece, piece])
        pairs = cKDTree(y, balanced_tree=False, compact_nodes=False).query_pairs(
            self.radius, output_type="ndarray"
        )
        i, j = pairs[:, 0], pairs[:, 1]
        keep = (py[i] != py[j]) & (self._piece_dist(py[i], py[j]) <= w) & (j >= q)
        i, j = i[keep], j[keep]
        d = np.linalg.norm(y[i] - y[j], axis=1)

        surv, target, tdist = self._merge(i, j, d, py, y)
        gid = np.empty(len(y), dtype=np.int64)
        gid[:q] = old.ids
        new_surv = np.flatnonzero(surv[q:]) + q
        gid[new_surv] = self.next_id + np.arange(len(new_surv))
        self.next_id += len(new_surv)
        merged = np.flatnonzero(target >= 0)
        gid[merged] = gid[target[merged]]
        if len(merged):
            self.merged += len(merged)
            self.max_displacement = max(self.max_displacement, float(tdist[merged].max()))

        ymap = np.arange(len(y))
        ymap[merged] = target[merged]
        ye = ymap[q + edges]
        loop = ye[:, 0] == ye[:, 1]
        ge, threads = gid[ye[~loop]], threads[~loop]
        self._bump(ge.ravel())
        ok = (d > self.tol) & (d <= self.stitch_radius) & surv[i] & surv[j]
        new_pairs = (gid[i[ok]], gid[j[ok]], py[i[ok]], py[j[ok]], d[ok])
        self.pending = tuple(np.concatenate([a, b]) for a, b in zip(self.pending, new_pairs))
        st = self._decide_stitches(p1)
        self.pos.append(pos[new_surv - q])
        self.node_piece.append(piece[new_surv - q])
        self.edges.extend([ge, st])
        self.threads.extend([threads, np.full(len(st), STITCH, dtype=np.int8)])
        self.stitched.extend([np.zeros(len(ge), bool), np.ones(len(st), bool)])

        alive = _Old(gid[new_surv], pos[new_surv - q], piece[new_surv - q])
        self.tail = alive.select(alive.piece >= p1 - w)
        if p0 == 0 and self.closed:
            self.head = alive.select(alive.piece < w)

    def _bump(self, nodes: np.ndarray) -> None:
        if len(nodes):
            lo = int(nodes.min())
            cnt = np.bincount(nodes - lo)
            self.deg[lo : lo + len(cnt)] += cnt

    def _merge(
        self, i: np.ndarray, j: np.ndarray, d: np.ndarray, py: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Survival of each node of the tree set ``y`` and, for merged ones, target and distance."""
        n = len(y)
        close = d <= self.tol
        a, b, dd = i[close], j[close], d[close]
        later_first = py[a] > py[b]
        late = np.where(later_first, a, b)
        early = np.where(later_first, b, a)
        surv = np.ones(n, dtype=bool)
        for _ in range(self.k + 1):
            hit = np.zeros(n, dtype=bool)
            hit[late[surv[early]]] = True
            new = ~hit
            if np.array_equal(new, surv):
                break
            surv = new
        ok = surv[early] & ~surv[late]
        late, early, dd = late[ok], early[ok], dd[ok]
        target = np.full(n, -1, dtype=np.int64)
        _nearest_partner(late, early, dd, target, np.full(n, np.inf))
        tdist = np.zeros(n)
        has = target >= 0
        tdist[has] = np.linalg.norm(y[has] - y[target[has]], axis=1)
        return surv, target, tdist

    def _decidable(self, piece: np.ndarray, p1: int) -> np.ndarray:
        """Nodes whose stitch candidates and their partners' degrees are all final.

        A node of piece j gets merges (edges) from pieces up to j + window, and candidates
        from pieces up to j + window whose own degrees are final window pieces later. On a
        closed curve the first pieces also receive merges from the last ones.
        """
        if p1 >= self.k:
            return np.ones(len(piece), dtype=bool)
        w = self.window
        ok = piece <= p1 - 2 * w - 1
        if self.closed:
            ok &= piece >= 2 * w
        return ok

    def _decide_stitches(self, p1: int) -> np.ndarray:
        """Accept the stitches that can be decided after pieces ``< p1``; (s, 2) global ids.

        A stitch joins mutual nearest candidates (different pieces in the window, distance
        in (tol, stitch_radius]) whose degrees from piece threads are below ``max_degree``.
        Decisions wait until every candidate and degree involved is final, so they do not
        depend on the chunking.
        """
        u, v, pu, pv, d = self.pending
        du, dv = self._decidable(pu, p1), self._decidable(pv, p1)
        elig = (self.deg[u] < self.max_degree) & (self.deg[v] < self.max_degree)
        fresh_u = du & ~self.decided[u] & elig
        fresh_v = dv & ~self.decided[v] & elig
        src = np.concatenate([u[fresh_u], v[fresh_v]])
        dst = np.concatenate([v[fresh_u], u[fresh_v]])
        dd = np.concatenate([d[fresh_u], d[fresh_v]])
        _nearest_partner(src, dst, dd, self.best, self.best_d)
        self.decided[u[du]] = True
        self.decided[v[dv]] = True
        both = du & dv
        acc = both & (self.best[u] == v) & (self.best[v] == u)
        self.pending = tuple(a[~both] for a in self.pending)
        return np.stack([u[acc], v[acc]], axis=1)

    # ------------------------------------------------------------------ result
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Concatenated (pos, node_piece, edges, threads, is_stitch) joined so far."""
        return (
            np.concatenate(self.pos) if self.pos else np.zeros((0, 3)),
            np.concatenate(self.node_piece) if self.node_piece else np.zeros(0, np.int64),
            np.concatenate(self.edges) if self.edges else np.zeros((0, 2), np.int64),
            np.concatenate(self.threads) if self.threads else np.zeros(0, np.int8),
            np.concatenate(self.stitched) if self.stitched else np.zeros(0, bool),
        )


def _nearest_partner(
    src: np.ndarray, dst: np.ndarray, d: np.ndarray, best: np.ndarray, best_d: np.ndarray
) -> None:
    """Record in ``best`` / ``best_d`` each ``src`` node's nearest ``dst`` (ties: lowest id)."""
    if not len(src):
        return
    np.minimum.at(best_d, src, d)
    hit = d == best_d[src]
    lo, hi = int(src.min()), int(src.max()) + 1
    cand = np.full(hi - lo, np.iinfo(np.int64).max)
    np.minimum.at(cand, src[hit] - lo, dst[hit])
    touched = np.zeros(hi - lo, dtype=bool)
    touched[src[hit] - lo] = True
    best[lo:hi][touched] = cand[touched]


def bridge_components(
    pos: np.ndarray, edges: np.ndarray, max_degree: int
) -> tuple[np.ndarray, int]:
    """Shortest links joining every component to the largest one.

    For each smaller component, the pair (its node, a node of the largest component) of
    least positive distance is linked, using only nodes with degree < ``max_degree`` where
    the component (or the largest one) has any. One pass gives one component.

    Returns
    -------
    links : (c - 1, 2) int64 new edges.
    relaxed : number of link endpoints that exceed ``max_degree``.
    """
    n = len(pos)
    if n == 0:
        return np.zeros((0, 2), np.int64), 0
    adj = coo_matrix((np.ones(len(edges), np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    nc, lab = connected_components(adj, directed=False)
    if nc == 1:
        return np.zeros((0, 2), np.int64), 0
    deg = np.bincount(edges.ravel(), minlength=n)
    main = int(np.argmax(np.bincount(lab)))
    spare = deg < max_degree
    in_main = lab == main
    pool = np.flatnonzero(in_main & spare)
    if not len(pool):
        pool = np.flatnonzero(in_main)
    tree = cKDTree(pos[pool])
    others = np.flatnonzero(~in_main)
    # per component: its spare nodes, or all of them when none has room
    comp_has_spare = np.bincount(lab[others], weights=spare[others], minlength=nc) > 0
    use = others[spare[others] | ~comp_has_spare[lab[others]]]
    kq = min(2, len(pool))
    dist, idx = tree.query(pos[use], k=kq)
    dist, idx = dist.reshape(len(use), kq), idx.reshape(len(use), kq)
    col = np.where(dist[:, 0] > 0, 0, min(1, kq - 1))
    rows = np.arange(len(use))
    dbest, nbest = dist[rows, col], pool[idx[rows, col]]
    valid = dbest > 0
    use, dbest, nbest = use[valid], dbest[valid], nbest[valid]
    order = np.lexsort((dbest, lab[use]))
    lab_sorted = lab[use][order]
    first = np.r_[True, lab_sorted[1:] != lab_sorted[:-1]]
    links = np.stack([use[order][first], nbest[order][first]], axis=1).astype(np.int64)
    ends = np.bincount(links.ravel(), minlength=n)
    relaxed = int(np.count_nonzero((ends > 0) & (deg + ends > max_degree)))
    return links, relaxed


__all__ = ["Joiner", "bridge_components", "STITCH"]
