"""Simulated scan damage: break threads, jitter nodes, scatter debris and noise points.

Used to test and benchmark :func:`araneus.clean.repair` on webs whose intact form is known.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .web import WebGraph


def simulate_breaks(
    web: WebGraph,
    n_breaks: int,
    *,
    jitter: float = 0.0,
    debris: int = 0,
    noise_points: int = 0,
    seed: int = 0,
) -> WebGraph:
    """Damage a web the way a scan does: break threads, jitter nodes, scatter debris.

    Parameters
    ----------
    web
        Input web with at least ``n_breaks`` edges.
    n_breaks
        Number of edges (thread segments) removed, chosen uniformly at random; each leaves
        a gap of one segment length between the two thread ends.
    jitter
        Standard deviation of the Gaussian noise added to every coordinate, as a multiple
        of the median edge length h.
    debris
        Number of isolated two-node thread pieces (length about h) scattered uniformly in
        the bounding box, appended after the original nodes.
    noise_points
        Number of isolated nodes (imaging noise) scattered uniformly in the bounding box,
        appended after the debris.
    seed
        Random seed (same seed, same output).

    Returns
    -------
    WebGraph
        Nodes ``0..N-1`` are the original nodes (same order, jittered), then debris nodes,
        then noise points.
        ``meta["broken_edges"]`` lists the removed edges (original indices).
    """
    if not isinstance(web, WebGraph) or web.n_edges == 0:
        raise InputError("simulate_breaks needs a WebGraph with at least one edge")
    for name, val in (("n_breaks", n_breaks), ("debris", debris), ("noise_points", noise_points)):
        if int(val) != val or val < 0:
            raise InputError(f"{name} must be a non-negative integer, got {val}")
    if n_breaks > web.n_edges:
        raise InputError(f"n_breaks={n_breaks} exceeds the number of edges ({web.n_edges})")
    if not (np.isfinite(jitter) and jitter >= 0):
        raise InputError(f"jitter must be finite and >= 0, got {jitter}")
    rng = np.random.default_rng(seed)
    h = float(np.median(web.edge_lengths))
    cut = rng.choice(web.n_edges, size=int(n_breaks), replace=False)
    keep = np.ones(web.n_edges, dtype=bool)
    keep[cut] = False
    pos = web.pos + rng.normal(0.0, jitter * h, size=web.pos.shape)
    lo, hi = web.bbox()
    start = rng.uniform(lo, hi, size=(int(debris), 3))
    direction = rng.normal(size=(int(debris), 3))
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    dpos = np.stack([start, start + h * direction], axis=1).reshape(-1, 3)
    dpos = np.concatenate([dpos, rng.uniform(lo, hi, size=(int(noise_points), 3))])
    n = web.n_nodes
    dedges = n + np.arange(2 * int(debris)).reshape(-1, 2)
    node_attrs = {
        k: np.concatenate([v, np.zeros((len(dpos),) + v.shape[1:], v.dtype)])
        for k, v in web.node_attrs.items()
    }
    edge_attrs = {
        k: np.concatenate([v[keep], np.zeros((int(debris),) + v.shape[1:], v.dtype)])
        for k, v in web.edge_attrs.items()
    }
    meta = {**web.meta, "broken_edges": web.edges[np.sort(cut)].tolist()}
    return WebGraph(
        np.concatenate([pos, dpos]),
        np.concatenate([web.edges[keep], dedges]),
        node_attrs,
        edge_attrs,
        meta,
    )


def thread_lattice(
    n: int | tuple[int, int, int] = 4, sub: int = 3, spacing: float = 1.0
) -> WebGraph:
    """A connected 3-D test web: an ``n`` lattice whose struts are chains of thread segments.

    The intact counterpart of a scan skeleton for tests and benchmarks of
    :func:`araneus.clean.repair`: lattice points of degree up to 6, joined by threads of
    ``sub`` segments each (``sub - 1`` degree-2 nodes per strut).

    Parameters
    ----------
    n
        Lattice points per axis: one int for a cube, or (nx, ny, nz); each in [1, 200].
    sub
        Segments per strut (>= 1).
    spacing
        Distance between lattice points (length units, > 0); segments are ``spacing / sub``.

    Returns
    -------
    WebGraph
        Lattice points first (``nx*ny*nz``, C order), then the strut-interior nodes.
    """
    shape = np.atleast_1d(np.asarray(n))
    shape = np.repeat(shape, 3) if shape.shape == (1,) else shape
    bad_kind = shape.shape != (3,) or shape.dtype.kind not in "iu"
    if bad_kind or np.any(shape < 1) or np.any(shape > 200):
        raise InputError(f"n must be an integer in [1, 200] or three such integers, got {n!r}")
    if isinstance(sub, bool) or int(sub) != sub or sub < 1:
        raise InputError(f"sub must be an integer >= 1, got {sub!r}")
    if not (np.isfinite(spacing) and spacing > 0):
        raise InputError(f"spacing must be finite and > 0, got {spacing!r}")
    dims = tuple(int(k) for k in shape)
    grid = np.stack(np.meshgrid(*[np.arange(k) for k in dims], indexing="ij"), -1)
    g = grid.reshape(-1, 3) * float(spacing)
    idx = np.arange(len(g)).reshape(dims)
    pairs = np.concatenate(
        [
            np.stack([np.moveaxis(idx, a, 0)[:-1].ravel(), np.moveaxis(idx, a, 0)[1:].ravel()], 1)
            for a in range(3)
        ]
    )
    t = np.arange(1, int(sub)) / int(sub)
    inner = g[pairs[:, 0], None] + t[None, :, None] * (g[pairs[:, 1]] - g[pairs[:, 0]])[:, None]
    ids = len(g) + np.arange(len(pairs) * (int(sub) - 1)).reshape(len(pairs), int(sub) - 1)
    chain = np.concatenate([pairs[:, :1], ids, pairs[:, 1:]], 1)
    edges = np.sort(np.stack([chain[:, :-1].ravel(), chain[:, 1:].ravel()], 1), 1)
    return WebGraph(np.concatenate([g, inner.reshape(-1, 3)]), edges.reshape(-1, 2))


__all__ = ["simulate_breaks", "thread_lattice"]
