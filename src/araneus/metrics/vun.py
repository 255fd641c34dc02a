"""Validity, uniqueness, novelty and V.U.N. of generated webs.

- *valid*: a non-empty web with at least one edge, one connected component, every degree
  <= K and no zero-length edge (shorter than ``1e-9`` times the web's bounding-box
  diagonal). WebGraph construction already guarantees finite positions, no self-loops,
  no duplicate edges and no dangling indices.
- *topology* (the graph generation literature's definition, up to isomorphism: V.U.N. of
  Vignac et al., DiGress, ICLR 2023): *unique* = valid webs isomorphic to no earlier
  generated web / valid webs; *novel* = valid webs isomorphic to no training web / valid
  webs; *V.U.N.* = webs that are valid, unique and novel / all generated webs. Decided by
  Weisfeiler-Lehman hashes and an exact isomorphism test (:mod:`.topology`).
- *geometry*: the same fractions with "the same node positions within ``geometry_tol``
  times the mean edge length, up to translation" (:mod:`.geometry`) in place of
  isomorphism; edges are ignored there.

A model that adds noise to the positions of a memorised training web scores 100% on a hash
of positions but not on topology; a model that makes a few small trees over and over
scores low on topology but may still score 100% on geometry. The two are reported
separately.
:func:`web_hash` (topology and positions rounded to ``decimals``) remains a fingerprint of
one exact web; uniqueness does not use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..web import WebGraph
from .geometry import GEOMETRY_TOL, check_tol, first_geometries, novel_geometries
from .topology import (
    TopologyIndex,
    first_topologies,
    hashes_and_colours,
    mix64,
    segment_sum,
)


def _check_cap(K: int) -> None:  # noqa: N803
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
        raise InputError(f"K (degree cap of validity) must be an integer >= 1, got {K!r}")


def validity(web: WebGraph, K: int = 5) -> dict[str, bool]:  # noqa: N803
    """Individual validity checks of one web and their conjunction ``"valid"``.

    Parameters
    ----------
    web
        The web to check.
    K
        Degree cap (>= 1): a node with more neighbours makes the web invalid.

    Returns
    -------
    dict
        ``non_empty`` (nodes and edges), ``connected``, ``degree_cap``, ``no_zero_length``
        (no edge shorter than 1e-9 of the bounding-box diagonal) and ``valid`` (all four).
    """
    _check_cap(K)
    lo, hi = web.bbox() if web.n_nodes else (np.zeros(3), np.zeros(3))
    diag = float(np.linalg.norm(hi - lo))
    checks = {
        "non_empty": web.n_nodes > 0 and web.n_edges > 0,
        "connected": web.n_nodes > 0 and web.n_components == 1,
        "degree_cap": bool(web.n_nodes == 0 or web.degrees.max() <= K),
        "no_zero_length": bool(web.n_edges == 0 or web.edge_lengths.min() > 1e-9 * diag),
    }
    checks["valid"] = all(checks.values())
    return checks


def web_hashes(
    webs: Sequence[WebGraph], decimals: int = 2, iterations: int = 3, salt: int = 0
) -> np.ndarray:
    """(W,) uint64 topology + geometry hash of every web, vectorised over all webs.

    Topology: Weisfeiler-Lehman refinement (initial label = degree; each iteration a node's
    label becomes a hash of its label and the multiset of its neighbours' labels), the web's
    hash summing the hashed labels of all nodes over all iterations. Geometry: the multiset
    of node positions relative to the centroid rounded to ``decimals`` decimals. Both are
    independent of node order; ``salt`` gives an independent second hash.
    """
    from ..metrics.stats import stack_webs

    st = stack_webs(webs)
    a = st.csr()
    m = st.n_nodes
    label = mix64(np.diff(a.indptr).astype(np.uint64) + np.uint64(salt))
    acc = segment_sum(label, st.offsets)
    rows = np.repeat(np.arange(m), np.diff(a.indptr))
    for it in range(iterations):
        agg = np.zeros(m, dtype=np.uint64)
        if len(rows):
            np.add.at(agg, rows, mix64(label[a.indices]))
        label = mix64(label * np.uint64(1_000_003) + agg + np.uint64(it + 1))
        acc = acc * np.uint64(31) + segment_sum(label, st.offsets)
    if m:
        cen = per_web_center(st)
        q = np.rint((st.pos - cen) * 10.0**decimals).astype(np.int64).astype(np.uint64)
        g = mix64(mix64(mix64(q[:, 0] + np.uint64(salt)) + q[:, 1]) + q[:, 2])
        acc = mix64(acc ^ segment_sum(g, st.offsets))
    return mix64(acc + np.diff(st.offsets).astype(np.uint64))


def per_web_center(st) -> np.ndarray:
    """(M, 3) centroid of each node's web."""
    n = np.maximum(np.diff(st.offsets), 1)
    owner = st.web_of_node
    c = np.stack([np.bincount(owner, weights=st.pos[:, d], minlength=len(n)) for d in range(3)], 1)
    return (c / n[:, None])[owner]


def web_hash(web: WebGraph, decimals: int = 2) -> str:
    """128-bit hex hash of one web (two independent :func:`web_hashes`)."""
    return _hex([web], decimals)[0]


def _hex(webs: Sequence[WebGraph], decimals: int) -> list[str]:
    if not len(webs):
        return []
    h1 = web_hashes(webs, decimals, salt=0)
    h2 = web_hashes(webs, decimals, salt=0x5EED)
    return [f"{a:016x}{b:016x}" for a, b in zip(h1.tolist(), h2.tolist())]


def vun(
    generated: Sequence[WebGraph],
    train: Sequence[WebGraph] | None = None,
    K: int = 5,  # noqa: N803
    geometry_tol: float = GEOMETRY_TOL,
) -> dict:
    """Validity, uniqueness, novelty and V.U.N. fractions (see module docstring).

    Parameters
    ----------
    generated
        Generated webs.
    train
        Training webs for novelty (None: no novelty).
    K
        Degree cap of the validity check.
    geometry_tol
        Tolerance of geometric sameness, a fraction of the mean edge length.

    Returns
    -------
    dict
        ``n``, ``valid``, ``unique_topology``, ``novel_topology`` (None without
        ``train``), ``vun`` (on topology; None without ``train``), ``unique_geometry``,
        ``novel_geometry`` (None without ``train``), ``geometry_tol``, ``n_train`` and
        ``failures`` counting each failed validity check. Fractions over valid webs are
        None when no web is valid.
    """
    _check_cap(K)
    geometry_tol = check_tol(geometry_tol)
    generated = list(generated)
    n = len(generated)
    checks = [validity(w, K) for w in generated]
    ok = np.array([c["valid"] for c in checks], dtype=bool)
    failures = {
        k: int(sum(not c[k] for c in checks)) for k in ("non_empty", "connected", "degree_cap",
                                                        "no_zero_length")
    }  # fmt: skip
    good = [w for w, v in zip(generated, ok) if v]
    n_valid = len(good)
    frac = lambda x: float(np.mean(x)) if n_valid else None  # noqa: E731
    hashes, colours = hashes_and_colours(good)
    first_t = first_topologies(good, (hashes, colours))
    out = {
        "n": n,
        "valid": n_valid / n if n else None,
        "unique_topology": frac(first_t),
        "novel_topology": None,
        "vun": None,
        "unique_geometry": frac(first_geometries(good, geometry_tol)),
        "novel_geometry": None,
        "geometry_tol": geometry_tol,
        "n_train": None if train is None else len(train),
        "failures": failures,
    }
    if train is not None:
        index = TopologyIndex(train)
        novel_t = np.array(
            [index.find(w, h, c) is None for w, h, c in zip(good, hashes, colours)], dtype=bool
        )
        out["novel_topology"] = frac(novel_t)
        out["vun"] = float((first_t & novel_t).sum() / n) if n else None
        out["novel_geometry"] = frac(novel_geometries(good, train, geometry_tol))
    return out
