"""Validity, uniqueness, novelty and V.U.N. of generated webs.

- *valid*: a non-empty web with at least one edge, one connected component, every degree
  <= K and no zero-length edge (shorter than ``1e-9`` times the web's bounding-box
  diagonal). WebGraph construction already guarantees finite positions, no self-loops,
  no duplicate edges and no dangling indices.
- *hash*: a Weisfeiler-Lehman graph hash (3 iterations, vectorised over all webs, see
  :func:`web_hashes`) combined with the multiset of node positions relative to the
  centroid rounded to ``decimals`` decimals. Two webs are the same if both agree: same
  WL topology class and the same shape up to node order.
- *uniqueness*: distinct hashes among valid webs / number of valid webs.
- *novelty*: valid webs whose hash is not in the training set / number of valid webs.
- *V.U.N.*: webs that are valid, the first of their hash among the generated, and novel,
  over all generated webs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..web import WebGraph


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


_M1, _M2, _GOLD = (
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0x9E3779B97F4A7C15),
)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    z = x.astype(np.uint64) + _GOLD
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _segment_sum(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Wrapping uint64 sums of ``values`` over segments ``offsets[i]:offsets[i+1]``."""
    n = np.diff(offsets)
    out = np.zeros(len(n), dtype=np.uint64)
    ne = n > 0
    if len(values) and ne.any():
        out[ne] = np.add.reduceat(values, offsets[:-1][ne])
    return out


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
    label = _mix(np.diff(a.indptr).astype(np.uint64) + np.uint64(salt))
    acc = _segment_sum(label, st.offsets)
    rows = np.repeat(np.arange(m), np.diff(a.indptr))
    for it in range(iterations):
        agg = np.zeros(m, dtype=np.uint64)
        if len(rows):
            np.add.at(agg, rows, _mix(label[a.indices]))
        label = _mix(label * np.uint64(1_000_003) + agg + np.uint64(it + 1))
        acc = acc * np.uint64(31) + _segment_sum(label, st.offsets)
    if m:
        cen = per_web_center(st)
        q = np.rint((st.pos - cen) * 10.0**decimals).astype(np.int64).astype(np.uint64)
        g = _mix(_mix(_mix(q[:, 0] + np.uint64(salt)) + q[:, 1]) + q[:, 2])
        acc = _mix(acc ^ _segment_sum(g, st.offsets))
    return _mix(acc + np.diff(st.offsets).astype(np.uint64))


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
    decimals: int = 2,
) -> dict:
    """Validity, uniqueness, novelty and V.U.N. fractions (see module docstring).

    Returns a dict with ``n``, ``valid``, ``unique``, ``novel`` (None without ``train``),
    ``vun`` (None without ``train``), and ``failures`` counting each failed check.
    """
    _check_cap(K)
    n = len(generated)
    checks = [validity(w, K) for w in generated]
    ok = np.array([c["valid"] for c in checks], dtype=bool)
    failures = {
        k: int(sum(not c[k] for c in checks)) for k in ("non_empty", "connected", "degree_cap",
                                                        "no_zero_length")
    }  # fmt: skip
    hx = _hex(list(generated), decimals)
    hashes = [h if v else None for h, v in zip(hx, ok)]
    seen: set[str] = set()
    first = np.zeros(n, dtype=bool)
    for i, h in enumerate(hashes):
        if h is not None and h not in seen:
            seen.add(h)
            first[i] = True
    n_valid = int(ok.sum())
    out = {
        "n": n,
        "valid": n_valid / n if n else 0.0,
        "unique": len(seen) / n_valid if n_valid else 0.0,
        "novel": None,
        "vun": None,
        "failures": failures,
    }
    if train is not None:
        known = set(_hex(list(train), decimals))
        novel = np.array([h is not None and h not in known for h in hashes], dtype=bool)
        out["novel"] = float(novel[ok].mean()) if n_valid else 0.0
        out["vun"] = float((ok & first & novel).mean()) if n else 0.0
    return out
