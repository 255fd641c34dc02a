"""Per-node and per-web structural statistics of many webs at once (vectorised).

Webs are concatenated into one block-diagonal graph (:func:`stack_webs`) and every
statistic is computed on it with numpy/scipy, then split back per web.

Graphlet orbits
---------------
:func:`orbit_counts` gives, for every node, how many times it touches each of the 15
orbits of connected graphlets with 2-4 nodes (the numbering of ORCA, Hočevar & Demšar
2014): 0 edge; 1 end / 2 middle of a 3-path; 3 triangle; 4 end / 5 middle of a 4-path;
6 leaf / 7 centre of a 3-star; 8 4-cycle; 9 pendant / 10 degree-2 / 11 degree-3 node of
a paw (tailed triangle); 12 degree-2 / 13 degree-3 node of a diamond; 14 4-clique. Counts
are of *induced* graphlets. Orbits 0-3 come from degree and triangle formulas; 4-node
graphlets are enumerated from their spanning 3-paths and 3-stars (every connected 4-node
set has one), de-duplicated, and classified by edge count and within-graphlet degree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..dataset.encode import gather_neighbors
from ..web import WebGraph

N_ORBITS = 15


@dataclass
class Stacked:
    """Many webs as one graph: node ``offsets`` (W+1,), ``pos`` (M, 3), ``edges`` (E, 2)."""

    offsets: np.ndarray
    pos: np.ndarray
    edges: np.ndarray

    @property
    def n_webs(self) -> int:
        """Number of webs W."""
        return len(self.offsets) - 1

    @property
    def n_nodes(self) -> int:
        """Total node count over all webs."""
        return int(self.offsets[-1])

    @property
    def web_of_node(self) -> np.ndarray:
        """(M,) web index of every node."""
        return np.repeat(np.arange(self.n_webs), np.diff(self.offsets))

    def csr(self) -> sp.csr_matrix:
        """(M, M) symmetric 0/1 adjacency of all webs together (block diagonal)."""
        m, e = self.n_nodes, self.edges
        r = np.concatenate([e[:, 0], e[:, 1]])
        c = np.concatenate([e[:, 1], e[:, 0]])
        a = sp.csr_matrix((np.ones(len(r), np.int64), (r, c)), shape=(m, m))
        a.sort_indices()
        return a


def stack_webs(webs: Sequence[WebGraph]) -> Stacked:
    """Concatenate webs into one :class:`Stacked` graph."""
    sizes = np.array([w.n_nodes for w in webs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    if not len(webs):
        return Stacked(offsets, np.zeros((0, 3)), np.zeros((0, 2), np.int64))
    pos = np.concatenate([w.pos for w in webs])
    edges = np.concatenate([w.edges + o for w, o in zip(webs, offsets[:-1])]).astype(np.int64)
    return Stacked(offsets, pos, edges.reshape(-1, 2))


def degrees(st: Stacked) -> np.ndarray:
    """(M,) node degrees."""
    return np.bincount(st.edges.ravel(), minlength=st.n_nodes)


def triangles(a: sp.csr_matrix) -> np.ndarray:
    """(M,) number of triangles through each node."""
    return np.asarray((a @ a).multiply(a).sum(axis=1)).ravel() // 2


def clustering(st: Stacked, a: sp.csr_matrix | None = None) -> np.ndarray:
    """(M,) local clustering coefficient (0 for degree < 2)."""
    a = st.csr() if a is None else a
    d = degrees(st)
    pairs = d * (d - 1) / 2
    return np.where(pairs > 0, triangles(a) / np.maximum(pairs, 1), 0.0)


def _edge_lookup(st: Stacked):
    m = max(st.n_nodes, 1)
    e = np.sort(st.edges, axis=1)
    keys = np.sort(e[:, 0] * m + e[:, 1])

    def has(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        k = np.minimum(u, v) * m + np.maximum(u, v)
        i = np.minimum(np.searchsorted(keys, k), max(len(keys) - 1, 0))
        return keys[i] == k if len(keys) else np.zeros(len(k), bool)

    return has


def _four_sets(a: sp.csr_matrix) -> np.ndarray:
    """(Q, 4) sorted node sets of all connected 4-node subgraphs (each once)."""
    ip, ix = a.indptr.astype(np.int64), a.indices.astype(np.int64)
    m = a.shape[0]
    src = np.repeat(np.arange(m), np.diff(ip))  # half-edges (src -> ix)
    rep, c = gather_neighbors(ip, ix, ix)  # wedges src[rep] - ix[rep] - c
    wa, wb, wc = src[rep], ix[rep], c
    ok = wc != wa
    wa, wb, wc = wa[ok], wb[ok], wc[ok]
    # 3-paths a-b-c-d (kept once: a < d)
    rep, d = gather_neighbors(ip, ix, wc)
    pa, pb, pc = wa[rep], wb[rep], wc[rep]
    ok = (d != pa) & (d != pb) & (pa < d)
    paths = np.stack([pa[ok], pb[ok], pc[ok], d[ok]], axis=1)
    # 3-stars centred at b with leaves a < c < e
    s = wa < wc
    sa, sb, sc = wa[s], wb[s], wc[s]
    rep, e = gather_neighbors(ip, ix, sb)
    ok = e > sc[rep]
    stars = np.stack([sa[rep][ok], sb[rep][ok], sc[rep][ok], e[ok]], axis=1)
    sets = np.sort(np.concatenate([paths, stars]), axis=1)
    if not len(sets):
        return sets.reshape(0, 4)
    if m < 50000:
        key = ((sets[:, 0] * m + sets[:, 1]) * m + sets[:, 2]) * m + sets[:, 3]
        _, first = np.unique(key, return_index=True)
        return sets[first]
    return np.unique(sets, axis=0)


def orbit_counts(st: Stacked, a: sp.csr_matrix | None = None) -> np.ndarray:
    """(M, 15) graphlet orbit counts of every node (see module docstring)."""
    a = st.csr() if a is None else a
    m = st.n_nodes
    out = np.zeros((m, N_ORBITS), dtype=np.int64)
    d = degrees(st)
    tri = triangles(a)
    out[:, 0] = d
    out[:, 3] = tri
    out[:, 2] = d * (d - 1) // 2 - tri
    out[:, 1] = np.asarray(a @ (d - 1)).ravel() - 2 * tri
    sets = _four_sets(a)
    if not len(sets):
        return out
    has = _edge_lookup(st)
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    adj = np.stack([has(sets[:, i], sets[:, j]) for i, j in pairs], axis=1)
    n_e = adj.sum(axis=1)
    deg = np.zeros((len(sets), 4), dtype=np.int64)
    for col, (i, j) in enumerate(pairs):
        deg[:, i] += adj[:, col]
        deg[:, j] += adj[:, col]
    orb = np.full(deg.shape, -1, dtype=np.int64)
    ne = n_e[:, None]
    orb[(ne == 3) & (deg == 1)] = 4  # 4-path end (fixed below for stars)
    orb[(ne == 3) & (deg == 2)] = 5
    star = (n_e == 3) & (deg == 3).any(axis=1)
    orb[star[:, None] & (deg == 1)] = 6
    orb[(ne == 3) & (deg == 3)] = 7
    orb[(ne == 4) & (deg == 2)] = 8
    paw = (n_e == 4) & (deg == 3).any(axis=1)
    orb[paw[:, None] & (deg == 1)] = 9
    orb[paw[:, None] & (deg == 2)] = 10
    orb[(ne == 4) & (deg == 3)] = 11
    orb[(ne == 5) & (deg == 2)] = 12
    orb[(ne == 5) & (deg == 3)] = 13
    orb[(ne == 6) & (deg == 3)] = 14
    node, o = sets.ravel(), orb.ravel()
    hit = o >= 0  # every node of a connected 4-set gets an orbit; guard anyway
    n_orb = out.shape[1]
    out += np.bincount(node[hit] * n_orb + o[hit], minlength=out.size).reshape(out.shape)
    return out


def per_web_mean(values: np.ndarray, st: Stacked) -> np.ndarray:
    """(W, ...) mean of per-node ``values`` over each web's nodes (0 for empty webs)."""
    n = np.diff(st.offsets)
    if not len(values):
        return np.zeros((len(n), *values.shape[1:]))
    s = np.add.reduceat(values, st.offsets[:-1], axis=0)
    s = np.where((n > 0).reshape(-1, *[1] * (values.ndim - 1)), s, 0)
    return s / np.maximum(n, 1).reshape(-1, *[1] * (values.ndim - 1))


def per_web_hist(
    values: np.ndarray, owner: np.ndarray, n_webs: int, edges: np.ndarray
) -> np.ndarray:
    """Normalised histogram of ``values`` per web.

    Parameters
    ----------
    values
        (M,) values (one per node or edge of all webs together).
    owner
        (M,) index of the web each value belongs to, in [0, n_webs).
    n_webs
        Number of webs W.
    edges
        (B + 1,) increasing bin edges; values outside go to the first/last bin.

    Returns
    -------
    np.ndarray
        (W, B) histograms summing to 1 per web (all zeros for a web without values).
    """
    nb = len(edges) - 1
    b = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, nb - 1)
    flat = np.bincount(np.asarray(owner, np.int64) * nb + b, minlength=n_webs * nb)
    h = flat.reshape(n_webs, nb).astype(np.float64)
    tot = h.sum(axis=1, keepdims=True)
    return np.divide(h, tot, out=np.zeros_like(h), where=tot > 0)
