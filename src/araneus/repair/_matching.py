"""Selection of scan-repair bridges among the candidates, and the graph helpers it uses.

:func:`select_bridges` turns the admissible candidates of :func:`araneus.repair._bridge.
bridge_candidates` into bridges: ends whose best two candidates cannot be told apart stay
open (:func:`ambiguous_ends`), the rest are matched greedily best first with every thread
end used once (:func:`greedy_matching`, vectorised rounds), bridges passing close to each
other are thinned, and debris-sized pieces are never left dangling from a single weak
bridge (:func:`prune_dangling`). :func:`hops_exceed` is the bounded hop reachability of
the own-fragment rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..web import WebGraph
from ._clearance import drop_crossing_bridges

if TYPE_CHECKING:
    from ._bridge import Candidates


def hops_exceed(web: WebGraph, src: np.ndarray, dst: np.ndarray, hops: int) -> np.ndarray:
    """(K,) True where node ``dst[k]`` is more than ``hops`` edges away from ``src[k]``.

    Breadth-first reachability for all distinct sources at once, as ``hops`` sparse
    boolean products with the adjacency matrix.
    """
    if len(src) == 0:
        return np.zeros(0, dtype=bool)
    us, row = np.unique(src, return_inverse=True)
    n = web.n_nodes
    a = web.adjacency.astype(bool)
    reach = sp.csr_matrix(
        (np.ones(len(us), dtype=bool), (np.arange(len(us)), us)), shape=(len(us), n)
    )
    frontier = reach
    for _ in range(hops):
        nxt = (frontier @ a).astype(bool)
        frontier = (nxt > reach).astype(bool)  # newly reached nodes only
        if frontier.nnz == 0:
            break
        reach = (reach + frontier).astype(bool)
    reach = reach.tocsr()
    reach.sort_indices()
    # membership test of (row, dst) pairs via sorted linear keys
    r_rows = np.repeat(np.arange(reach.shape[0]), np.diff(reach.indptr))
    keys = r_rows * n + reach.indices
    q = row * n + dst
    pos = np.searchsorted(keys, q)
    found = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == q)
    return ~found


def greedy_matching(
    res_a: np.ndarray, res_b: np.ndarray, score: np.ndarray, n_res: int
) -> np.ndarray:
    """Greedy (best score first) selection where every resource is used at most once.

    Candidate k uses resource ``res_a[k]`` and, if ``res_b[k] >= 0``, ``res_b[k]``. Runs
    in vectorised rounds: a candidate that is the best remaining one for every resource it
    uses is accepted (this reproduces the sequential greedy result exactly).

    Returns the boolean (K,) mask of accepted candidates.
    """
    k = len(score)
    rank = np.empty(k, dtype=np.int64)
    rank[np.lexsort((np.arange(k), score))] = np.arange(k)
    alive = np.ones(k, dtype=bool)
    accepted = np.zeros(k, dtype=bool)
    used = np.zeros(n_res, dtype=bool)
    has_b = res_b >= 0
    rb = np.where(has_b, res_b, 0)
    while alive.any():
        best = np.full(n_res, k, dtype=np.int64)
        idx = np.flatnonzero(alive)
        np.minimum.at(best, res_a[idx], rank[idx])
        ib = idx[has_b[idx]]
        np.minimum.at(best, rb[ib], rank[ib])
        win = alive & (best[res_a] == rank) & (~has_b | (best[rb] == rank))
        accepted |= win
        used[res_a[win]] = True
        used[rb[win & has_b]] = True
        alive &= ~used[res_a] & ~(has_b & used[rb])
    return accepted


def select_bridges(
    web: WebGraph, ends: np.ndarray, cand: Candidates, clearance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bridges chosen among ``cand``: (source (B,), target (B,), sure pair (B,)).

    Ends left ambiguous (:func:`ambiguous_ends`) take part in no bridge. The rest are
    matched greedily in the order of ``cand.rank`` (sure facing pairs favoured, then best
    score first); every thread end is used once (as source, or as the target of a facing
    pair); of two bridges passing within ``clearance`` local segment lengths of each other
    the worse is dropped.
    """
    amb = ambiguous_ends(web, ends, cand)
    end_index = np.full(web.n_nodes, -1, dtype=np.int64)
    end_index[ends] = np.arange(len(ends))
    tgt = end_index[cand.target]
    cand = cand.take(~amb[cand.end] & ~(cand.exclusive & (tgt >= 0) & amb[np.maximum(tgt, 0)]))
    if not len(cand.end):
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, bool)
    rank = cand.rank
    res_b = np.where(cand.exclusive, end_index[cand.target], -1)
    acc = np.flatnonzero(greedy_matching(cand.end, res_b, rank, len(ends)))
    src, dst = ends[cand.end[acc]], cand.target[acc]
    keep = drop_crossing_bridges(
        web.pos, src, dst, clearance * cand.local[acc], np.argsort(rank[acc], kind="stable")
    )
    return src[keep], dst[keep], cand.sure_pair[acc][keep]


#: An end is left open when its second-best candidate ranks within AMBIGUITY_MARGIN local
#: segment lengths of its best and lands within AMBIGUITY_DIST local lengths of it (two
#: junctions a fraction of a segment apart, e.g. the staggered attachments of a sheet):
#: the geometry cannot tell them apart, and a wrong bridge costs more than an open gap.
AMBIGUITY_MARGIN = 0.2
AMBIGUITY_DIST = 1.0


def ambiguous_ends(web: WebGraph, ends: np.ndarray, cand: Candidates) -> np.ndarray:
    """(len(ends),) True for ends whose two best candidates are nearly tied and close.

    Ends marked ``cand.blocked`` (their best bridge is hidden by a thread passing in its
    way) count as ambiguous, and so does an end whose best candidate is a facing pair with
    an ambiguous end: its next choice would be a fallback the geometry did not prefer.
    """
    amb = np.zeros(len(ends), bool)
    if not len(cand.end):
        return amb
    rank = cand.rank
    order = np.lexsort((rank, cand.end))
    e = cand.end[order]
    first = np.r_[True, e[1:] != e[:-1]]
    second = np.r_[False, first[:-1] & ~first[1:]]
    best = np.full(len(ends), -1, np.int64)
    best[e[first]] = order[first]
    k2 = order[second]
    k1 = best[cand.end[k2]]
    apart = np.linalg.norm(web.pos[cand.target[k1]] - web.pos[cand.target[k2]], axis=1)
    tied = (rank[k2] - rank[k1] < AMBIGUITY_MARGIN) & (apart < AMBIGUITY_DIST * cand.local[k2])
    amb[cand.end[k2[tied]]] = True
    amb[cand.end[cand.blocked]] = True
    end_index = np.full(web.n_nodes, -1, np.int64)
    end_index[ends] = np.arange(len(ends))
    has = np.flatnonzero(best >= 0)
    partner = np.where(cand.exclusive[best[has]], end_index[cand.target[best[has]]], -1)
    amb[has[(partner >= 0) & amb[np.maximum(partner, 0)]]] = True
    return amb


#: Fragments of at most this many nodes (one or two segments: the size of scan debris)
#: are bridged only as pieces of a thread between two gaps, or by two thread ends facing
#: each other, never left dangling from a weaker bridge.
DANGLING_SIZE = 3


def prune_dangling(
    web: WebGraph, src: np.ndarray, dst: np.ndarray, sure_pair: np.ndarray,
    max_size: int = DANGLING_SIZE,
) -> np.ndarray:  # fmt: skip
    """(B,) mask of bridges kept: none but a sure facing pair may tie on a debris-sized piece.

    A fragment of ``web`` of at most ``max_size`` nodes is worth bridging to a larger piece
    as a piece of a thread between two gaps (two bridges), or when two thread ends face
    each other across the gap (debris is scattered at random and rarely lines up with a
    thread end); one joined to a larger piece by a single weaker bridge would dangle from
    the web like the debris it most likely is, so that bridge is dropped, repeatedly, from
    the outermost such piece in.
    """
    keep = np.ones(len(src), bool)
    if not len(src):
        return keep
    lab = web.component_labels
    small = web.component_sizes() <= max_size
    fa, fb = lab[src], lab[dst]
    while True:
        live = np.flatnonzero(keep)
        count = np.bincount(np.r_[fa[live], fb[live]], minlength=len(small))
        la, lb = fa[live], fb[live]
        hang_a = small[la] & (count[la] == 1) & ~small[lb]
        hang_b = small[lb] & (count[lb] == 1) & ~small[la]
        bad = live[(hang_a | hang_b) & ~sure_pair[live]]
        if not len(bad):
            return keep
        keep[bad] = False
