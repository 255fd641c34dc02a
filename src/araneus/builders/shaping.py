"""Equilibrium shaping of webs by the force-density method (Schek 1974).

A web is treated as a pin-jointed network of threads in pure tension. Giving every thread a
*force density* ``q = force / length`` makes the equilibrium of the free nodes linear::

    D_ff x_f = p_f - D_fx x_x,     D = C^T diag(q) C

with ``C`` the (E, N) branch-node incidence matrix, ``x_x`` the fixed (anchor) positions
and ``p`` the nodal loads. One sparse factorisation serves all three coordinates. Higher
``q`` on frame and radial threads than on spiral or sheet threads reproduces the way real
webs are pre-stressed: stiff, tight support lines and softer capture/sheet meshes that sag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.sparse.linalg import factorized

from ..errors import InputError, SolverError
from ..web import THREAD_TYPES, WebGraph

#: Default force densities per thread type (relative units: force per unit length).
DEFAULT_FORCE_DENSITY: dict[str, float] = {
    "unknown": 1.0,
    "frame": 8.0,
    "radial": 4.0,
    "spiral": 1.0,
    "hub": 2.0,
    "sheet": 1.0,
    "scaffold": 2.0,
    "anchor": 8.0,
    "bridge": 10.0,
    "gumfoot": 2.0,
    "stitch": 1.0,
}


def form_find(
    pos: np.ndarray,
    edges: np.ndarray,
    fixed: np.ndarray,
    q: np.ndarray,
    loads: np.ndarray | None = None,
    axes: Sequence[int] = (0, 1, 2),
) -> np.ndarray:
    """Equilibrium positions of a tension network by one sparse linear solve.

    Parameters
    ----------
    pos
        Initial node positions (N, 3), mm; fixed nodes keep theirs, as do the coordinates
        not listed in ``axes``.
    edges
        Threads (E, 2), node indices.
    fixed
        Boolean mask (N,) of fixed nodes (anchors); every connected component must hold one.
    q
        Force density per edge (E,), strictly positive.
    loads
        Nodal loads (N, 3) in the same force units as ``q * length``; default none.
        A stack (C, N, 3) solves C load cases with one factorisation.
    axes
        Coordinates to solve for (0 = x, 1 = y, 2 = z).

    Returns
    -------
    ndarray (N, 3), or (C, N, 3) for stacked load cases
        Equilibrium positions.
    """
    pos = np.asarray(pos, np.float64)
    n = len(pos)
    edges = np.asarray(edges, np.int64)
    fixed = np.asarray(fixed, bool)
    q = np.asarray(q, np.float64)
    if fixed.shape != (n,):
        raise InputError(f"fixed must have shape ({n},), got {fixed.shape}")
    if q.shape != (len(edges),) or not np.all(np.isfinite(q)) or np.any(q <= 0):
        raise InputError("q must hold one finite, strictly positive force density per edge")
    if any(a not in (0, 1, 2) for a in axes):
        raise InputError(f"axes must be a subset of (0, 1, 2), got {tuple(axes)}")
    load = np.zeros((n, 3)) if loads is None else np.asarray(loads, np.float64)
    cases = load.ndim == 3
    load = load if cases else load[None]
    if load.ndim != 3 or load.shape[1:] != (n, 3) or not np.all(np.isfinite(load)):
        raise InputError(f"loads must be a finite array of shape ({n}, 3) or (C, {n}, 3)")
    free = ~fixed
    if not free.any() or not len(edges):
        out = np.repeat(pos[None], len(load), axis=0)
        return out if cases else out[0]
    e = len(edges)
    c = sp.csr_matrix(
        (np.r_[np.ones(e), -np.ones(e)], (np.r_[np.arange(e), np.arange(e)], edges.T.ravel())),
        shape=(e, n),
    )
    d = (c.T @ sp.diags(q) @ c).tocsr()
    ncomp, labels = csgraph.connected_components(d, directed=False)
    anchored = np.zeros(ncomp, bool)
    anchored[labels[fixed]] = True
    if not anchored.all():
        raise SolverError(
            f"force-density shaping needs a fixed node in every connected part; "
            f"{int((~anchored).sum())} of {ncomp} parts have none"
        )
    fi, xi = np.flatnonzero(free), np.flatnonzero(fixed)
    d_ff = d[fi][:, fi].tocsc()
    d_fx = d[fi][:, xi]
    solve = factorized(d_ff)  # one factorisation for every coordinate and load case
    out = np.repeat(pos[None], len(load), axis=0)
    for k in range(len(load)):
        for a in axes:
            out[k, fi, a] = solve(load[k, fi, a] - d_fx @ pos[xi, a])
    if not np.all(np.isfinite(out)):
        raise SolverError("force-density solve produced non-finite positions")
    return out if cases else out[0]


def edge_force_density(web: WebGraph, q_by_type: Mapping[str, float] | None = None) -> np.ndarray:
    """Force density per edge (E,) from ``edge_attrs["thread"]`` and a per-type table."""
    table = dict(DEFAULT_FORCE_DENSITY)
    for k, v in (q_by_type or {}).items():
        if k not in table:
            raise InputError(f"unknown thread type {k!r} in q_by_type; valid: {', '.join(table)}")
        if not np.isfinite(v) or v <= 0:
            raise InputError(f"force density for {k!r} must be > 0, got {v}")
        table[k] = float(v)
    lut = np.array([table[t] for t in THREAD_TYPES])
    codes = web.edge_attrs.get("thread")
    if codes is None:
        return np.full(web.n_edges, table["unknown"])
    return lut[np.clip(codes.astype(np.int64), 0, len(THREAD_TYPES) - 1)]


def shape_web(
    web: WebGraph,
    q_by_type: Mapping[str, float] | None = None,
    load: Sequence[float] = (0.0, 0.0, -1.0),
    fixed: np.ndarray | None = None,
    axes: Sequence[int] = (0, 1, 2),
) -> WebGraph:
    """Return ``web`` moved to force-density equilibrium under a uniform nodal ``load``.

    Parameters
    ----------
    web
        The web; ``node_attrs["anchor"]`` gives the fixed nodes unless ``fixed`` is given.
    q_by_type
        Force density per thread type name, overriding :data:`DEFAULT_FORCE_DENSITY`.
    load
        Load (3,) applied to every free node (e.g. self-weight ``(0, 0, -w)``).
    fixed
        Boolean mask (N,) of fixed nodes.
    axes
        Coordinates to solve for.
    """
    if fixed is None:
        if "anchor" not in web.node_attrs:
            raise InputError("web has no node_attrs['anchor']; pass fixed= explicitly")
        fixed = web.node_attrs["anchor"]
    loads = np.broadcast_to(np.asarray(load, np.float64), (web.n_nodes, 3))
    q = edge_force_density(web, q_by_type)
    return web.replace(pos=form_find(web.pos, web.edges, fixed, q, loads, axes))
