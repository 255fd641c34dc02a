"""Vectorised graph helpers of scan repair: bounded hop reachability and greedy matching."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .web import WebGraph


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
