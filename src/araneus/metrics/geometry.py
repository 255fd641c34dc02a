"""Webs that are the same shape in space, within a stated tolerance.

Two webs have the **same geometry** when they have the same number of nodes and their
nodes, each taken relative to its web's centroid, can be paired one to one so that every
pair is closer than ``tol`` times the smaller of the two webs' mean edge lengths. Edges
are ignored (the topology is compared separately, see :mod:`araneus.metrics.topology`);
translation and node order are ignored; rotation is not, since orientation is one of the
conditioned features. The tolerance is relative so that one number serves webs of any
size (the default data spans mean edge lengths of 0.65-130 mm).

The test is exact: a pairing with every distance below the threshold exists iff the
bipartite graph of node pairs within it has a perfect matching (Hopcroft-Karp, scipy).
Two necessary conditions prune the candidates first: the radii of gyration differ by at
most the threshold, and so does every coordinate of the two webs' per-axis sorted
coordinate lists (the 1-D bottleneck distance bounds the 3-D one from below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..web import WebGraph

#: Default tolerance of geometric sameness, a fraction of the mean edge length.
GEOMETRY_TOL = 0.05


def check_tol(tol: float) -> float:
    """``tol`` as a float, or an InputError if it is not a finite number >= 0."""
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating, np.integer)):
        raise InputError(f"geometry tolerance must be a number, got {tol!r}")
    if not (np.isfinite(tol) and tol >= 0):
        raise InputError(f"geometry tolerance must be finite and >= 0, got {tol}")
    return float(tol)


@dataclass
class _Group:
    """Webs of one node count: indices, centred positions, radii, scales, sorted coords."""

    index: np.ndarray  # (G,)
    pos: np.ndarray  # (G, n, 3)
    rg: np.ndarray  # (G,)
    ell: np.ndarray  # (G,) mean edge length (NaN without edges)
    srt: np.ndarray  # (G, n, 3) each axis sorted


def _groups(webs: Sequence[WebGraph]) -> dict[int, _Group]:
    by_n: dict[int, list[int]] = {}
    for i, w in enumerate(webs):
        by_n.setdefault(w.n_nodes, []).append(i)
    out = {}
    for n, idx in by_n.items():
        pos = np.stack([webs[i].pos for i in idx]).reshape(len(idx), n, 3)
        pos = pos - pos.mean(axis=1, keepdims=True) if n else pos
        ell = np.array([webs[i].edge_lengths.mean() if webs[i].n_edges else np.nan for i in idx])
        rg = np.sqrt((pos**2).sum(axis=2).mean(axis=1)) if n else np.zeros(len(idx))
        out[n] = _Group(np.array(idx), pos, rg, ell, np.sort(pos, axis=1))
    return out


def _matched(a: np.ndarray, b: np.ndarray, t: float) -> bool:
    """True if the node sets a, b (n, 3) pair one to one with every distance <= t."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import maximum_bipartite_matching
    from scipy.spatial.distance import cdist

    close = cdist(a, b) <= t
    if not (close.any(axis=0).all() and close.any(axis=1).all()):
        return False
    perm = maximum_bipartite_matching(sp.csr_matrix(close), perm_type="column")
    return bool((perm >= 0).all())


def _candidates(g: _Group, k: int, pool: np.ndarray, tol: float) -> np.ndarray:
    """Members ``pool`` (positions in g) of g that may match member k, with thresholds."""
    t = tol * np.fmin(g.ell[pool], g.ell[k])
    ok = np.isfinite(t) & (np.abs(g.rg[pool] - g.rg[k]) <= t * (1 + 1e-12))
    pool, t = pool[ok], t[ok]
    if len(pool):
        gap = np.abs(g.srt[pool] - g.srt[k]).max(axis=(1, 2)) if g.pos.shape[1] else 0 * t
        keep = gap <= t * (1 + 1e-12)
        pool, t = pool[keep], t[keep]
    return np.stack([pool, t]) if len(pool) else np.zeros((2, 0))


def same_geometry(a: WebGraph, b: WebGraph, tol: float = GEOMETRY_TOL) -> bool:
    """True if webs ``a`` and ``b`` have the same geometry within ``tol`` (module docstring)."""
    return not bool(novel_geometries([a], [b], tol)[0])


def first_geometries(webs: Sequence[WebGraph], tol: float = GEOMETRY_TOL) -> np.ndarray:
    """(W,) bool: True where a web has the same geometry as none of the webs before it."""
    tol = check_tol(tol)
    webs = list(webs)
    first = np.ones(len(webs), dtype=bool)
    for g in _groups(webs).values():
        for k in range(1, len(g.index)):
            pool, t = _candidates(g, k, np.arange(k), tol)
            for j, tj in zip(pool.astype(int), t):
                if _matched(g.pos[k], g.pos[j], tj):
                    first[g.index[k]] = False
                    break
    return first


def novel_geometries(
    webs: Sequence[WebGraph], train: Sequence[WebGraph], tol: float = GEOMETRY_TOL
) -> np.ndarray:
    """(W,) bool: True where no ``train`` web has the web's geometry within ``tol``."""
    tol = check_tol(tol)
    webs, train = list(webs), list(train)
    out = np.ones(len(webs), dtype=bool)
    both = _groups(webs + train)
    for g in both.values():
        mine = np.flatnonzero(g.index < len(webs))
        theirs = np.flatnonzero(g.index >= len(webs))
        if not len(theirs):
            continue
        for k in mine:
            pool, t = _candidates(g, k, theirs, tol)
            for j, tj in zip(pool.astype(int), t):
                if _matched(g.pos[k], g.pos[j], tj):
                    out[g.index[k]] = False
                    break
    return out
