"""Scan-like resampling: threads as polylines of short, jittered, sagging segments.

A laser-scan skeleton stores every thread as a polyline of short segments, so most of its
nodes have degree 2; a procedural web stores only the junctions. :func:`resample` turns
any web into the scan-like form:

1. every edge (thread segment between two nodes) of straight length ``l`` is cut into
   ``n = max(1, round(l / R))`` pieces, ``R`` the *resolution*; the cut points are drawn
   so that the piece lengths vary like a skeleton's (Dirichlet proportions with
   coefficient of variation ``segment_cv`` for long threads); edges shorter than
   ``1.5 R`` stay whole, every existing node stays where it is;
2. the new interior nodes sag under their own weight: a force-density equilibrium
   (:func:`araneus.builders.shaping.form_find`, original nodes fixed) with a uniform
   downward load per unit thread length, so a thread of force density ``q`` sags at
   mid-span by ``sag / q`` of its span (``sag`` is the sag ratio of a thread of unit
   force density; near-vertical threads hardly sag, as in a real web);
3. each new node is displaced perpendicular to its thread by Gaussian noise of standard
   deviation ``jitter * R`` (the lateral noise of a skeleton).

Edge attributes are inherited by every piece of the edge they belong to (thread codes,
``bridge`` marks, radii, ...), except ``force_density``: the tension of a thread does not
change when it is subdivided, so a piece of straight length ``l_piece`` cut from an edge
of straight length ``l`` and force density ``q`` gets ``q * l / l_piece`` (lengths before
jitter and sag). Node attributes of the original nodes are kept; new nodes get zeros
(``anchor`` False). Original nodes keep their indices ``0..N-1``; new nodes follow.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError
from ..web import WebGraph

#: ``resolution="auto"``: this fraction of the median thread length (see
#: :func:`thread_lengths`), so a typical thread becomes a polyline of two segments or more.
AUTO_FRACTION = 0.5
#: ``resolution="auto"`` is also at most this many times the thread spacing
#: (:func:`thread_spacing`) at quantile :data:`AUTO_SPACING_QUANTILE`: a skeleton resolves
#: its threads only with segments no longer than about twice the gap between neighbouring
#: threads. It binds in crowded 3-D tangles; for the tent and the orb the thread-length rule
#: is the smaller.
AUTO_SPACING = 2.0
AUTO_SPACING_QUANTILE = 0.05
#: The spacing rule refines the thread-length rule by at most this factor, so that a few
#: near-duplicate threads (e.g. doubled draglines traced apart) cannot make segments tiny.
AUTO_MAX_REFINE = 8.0

#: Defaults of :func:`resample` (also used by the builders' scan-like form).
DEFAULT_SEGMENT_CV = 0.6
DEFAULT_JITTER = 0.1
DEFAULT_SAG = 0.01

#: Edges shorter than this many resolutions are not cut.
_MIN_SPLIT = 1.5


def parse_resolution(value: Any, name: str = "resolution") -> str | float:
    """Canonical resolution setting: ``"auto"`` or a finite length >= 0 (0 = junctions only).

    Accepts numbers and strings (``"auto"``, ``"0.8"``); raises :class:`ConfigError`
    naming ``name`` otherwise.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(
                f"{name} must be 'auto' or a segment length >= 0 (0 = junctions only), "
                f"got {value!r}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be 'auto' or a segment length >= 0, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be 'auto' or a finite segment length >= 0, got {value!r}")
    return value


def thread_lengths(web: WebGraph) -> np.ndarray:
    """Lengths of the web's threads: maximal chains of edges through degree-2 nodes.

    A junction-only web has one thread per edge; in a scan-like web a thread is the
    polyline between two junctions (or thread ends). Anchor nodes end threads too.

    Returns
    -------
    ndarray (T,)
        Thread lengths in the web's units.
    """
    if web.n_edges == 0:
        return np.zeros(0)
    label, nt = _thread_labels(web)
    return np.bincount(label, weights=web.edge_lengths, minlength=nt)


def _through_nodes(web: WebGraph) -> np.ndarray:
    """(N,) True at nodes a thread runs through: degree 2 and not an anchor."""
    through = web.degrees == 2
    if "anchor" in web.node_attrs:
        through &= ~web.node_attrs["anchor"].astype(bool)
    return through


def _thread_labels(web: WebGraph) -> tuple[np.ndarray, int]:
    """(E,) thread number of every edge (see :func:`thread_lengths`) and the thread count."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = web.n_edges
    through = _through_nodes(web)
    ends = web.edges.ravel()
    eid = np.repeat(np.arange(e), 2)
    sel = through[ends]
    order = np.argsort(ends[sel], kind="stable")
    pair = eid[sel][order].reshape(-1, 2)  # the two edges at each degree-2 node
    g = coo_matrix((np.ones(len(pair)), (pair[:, 0], pair[:, 1])), shape=(e, e))
    nc, lab = connected_components(g, directed=False)
    return lab, int(nc)


def thread_spacing(
    web: WebGraph, step: float | None = None, k: int = 16, max_points: int = 20_000
) -> np.ndarray:
    """Distances from points along the threads to the nearest *other* thread.

    Points are spaced about ``step`` apart along every edge (default a quarter of the
    median thread length; at least one per edge), so the distances weight the web by thread
    length. For each point, the nearest of the segments whose points are among its ``k``
    nearest is taken, by exact point-to-segment distance; segments of the same thread
    (:func:`thread_lengths`) and of threads that meet it at a junction do not count.
    Points with no other thread among those candidates get ``inf`` (far from any). Of more
    than ``max_points`` points, every m-th is measured (against all of them).

    Returns
    -------
    ndarray (M,)
        One distance per point, in the web's units; empty for a web without edges.
    """
    if web.n_edges == 0:
        return np.zeros(0)
    from scipy.spatial import cKDTree

    label, nt = _thread_labels(web)
    length = web.edge_lengths
    if step is None:
        lengths = np.bincount(label, weights=length, minlength=nt)
        step = 0.25 * float(np.median(lengths[lengths > 0])) if (lengths > 0).any() else 1.0
    n = np.maximum(np.ceil(length / max(step, 1e-300)), 1).astype(np.int64)
    eid = np.repeat(np.arange(web.n_edges), n)
    t = (np.arange(len(eid)) - np.repeat(np.cumsum(n) - n, n) + 0.5) / n[eid]
    a, b = web.pos[web.edges[:, 0]], web.pos[web.edges[:, 1]]
    pts = a[eid] + t[:, None] * (b - a)[eid]
    kk = min(k, len(pts))
    tree = cKDTree(pts)
    take = slice(None, None, -(-len(pts) // max(int(max_points), 1)))
    pts, eid = pts[take], eid[take]
    _, j = tree.query(pts, k=kk)
    cand = np.repeat(np.arange(web.n_edges), n)[j.reshape(len(pts), kk)]  # (M, k) candidates
    # the ends (junctions) of every thread: -1 where a thread has fewer than two
    through = _through_nodes(web)
    lab2 = np.repeat(label, 2)
    node = web.edges.ravel()
    keep = ~through[node]
    tend = np.full((nt, 2), -1, np.int64)
    pairs = np.unique(np.stack([lab2[keep], node[keep]], axis=1), axis=0)
    first = np.r_[True, pairs[1:, 0] != pairs[:-1, 0]]
    slot = np.arange(len(pairs)) - np.maximum.accumulate(np.where(first, np.arange(len(pairs)), 0))
    ok = slot < 2
    tend[pairs[ok, 0], slot[ok]] = pairs[ok, 1]
    own, other = label[eid][:, None], label[cand]
    e_own, e_oth = tend[own], tend[other]  # (M, 1, 2), (M, k, 2)
    meet = ((e_own[..., :, None] == e_oth[..., None, :]) & (e_own[..., :, None] >= 0)).any((-1, -2))
    related = (own == other) | meet
    pa, pb = a[cand], b[cand]
    ab = pb - pa
    s = np.einsum("mkd,mkd->mk", pts[:, None] - pa, ab) / np.maximum(
        np.einsum("mkd,mkd->mk", ab, ab), 1e-300
    )
    near = pa + np.clip(s, 0, 1)[..., None] * ab
    d = np.linalg.norm(pts[:, None] - near, axis=-1)
    return np.where(related, np.inf, d).min(axis=1)


def auto_resolution(web: WebGraph) -> float:
    """The ``"auto"`` resolution of ``web``.

    :data:`AUTO_FRACTION` x its median thread length, but no more than
    :data:`AUTO_SPACING` x the :data:`AUTO_SPACING_QUANTILE` quantile of its thread spacing
    (:func:`thread_spacing`), so that the segments resolve neighbouring threads; and no less
    than 1 / :data:`AUTO_MAX_REFINE` of the thread-length rule.
    """
    lengths = thread_lengths(web)
    lengths = lengths[lengths > 0]
    if not len(lengths):
        raise InputError("cannot choose a resolution for a web without edges of positive length")
    r = AUTO_FRACTION * float(np.median(lengths))
    gap = float(np.quantile(thread_spacing(web), AUTO_SPACING_QUANTILE, method="lower"))
    if math.isfinite(gap):
        r = max(min(r, AUTO_SPACING * gap), r / AUTO_MAX_REFINE)
    return r


def _check_fraction(name: str, value: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a number in [0, {hi}], got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and 0 <= value <= hi):
        raise ConfigError(f"{name} must be in [0, {hi}], got {value!r}")
    return value


def resample(
    web: WebGraph,
    resolution: str | float = "auto",
    *,
    segment_cv: float = DEFAULT_SEGMENT_CV,
    jitter: float = DEFAULT_JITTER,
    sag: float = DEFAULT_SAG,
    seed: int = 0,
    max_segments: int | None = None,
) -> WebGraph:
    """Scan-like form of ``web``: threads subdivided into jittered, sagging polylines.

    Parameters
    ----------
    web
        Any web (junction-only or already scan-like), in its own length units.
    resolution
        Target segment length R (web units), ``"auto"`` (:func:`auto_resolution`: half the
        median thread length) or 0 (return ``web`` unchanged).
    segment_cv
        Coefficient of variation of the piece lengths along a long thread (0 = equal
        pieces; the default 0.6 gives the tent web the segment-length CV of real scan
        skeletons, 0.49-0.50, once short unsplit edges are counted). At
        most 1.5.
    jitter
        Lateral noise of the new nodes, standard deviation as a fraction of R (<= 1).
    sag
        Mid-span sag, as a fraction of the span, of a thread of unit force density under
        its own weight (threads of force density q sag ``sag / q``); 0 = straight. At
        most 0.5. Force densities come from ``edge_attrs["force_density"]``, else from
        the thread types (:func:`araneus.builders.shaping.edge_force_density`).
    seed
        Random seed (same seed, same web).
    max_segments
        If given, raise :class:`InputError` (before any work) when the web's thread length
        over the resolution exceeds it, for a resolution given or chosen by ``"auto"``.

    Returns
    -------
    WebGraph
        Nodes ``0..N-1`` are the input nodes (unchanged positions and attributes), then
        the new nodes; ``meta["resample"]`` records the settings and the resolved R.
    """
    if not isinstance(web, WebGraph):
        raise InputError(f"resample expects a WebGraph, got {type(web).__name__}")
    res = parse_resolution(resolution)
    segment_cv = _check_fraction("segment_cv", segment_cv, 1.5)
    jitter = _check_fraction("jitter", jitter, 1.0)
    sag = _check_fraction("sag", sag, 0.5)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if res == 0 or web.n_edges == 0:
        return web
    r = auto_resolution(web) if res == "auto" else float(res)
    total = float(web.edge_lengths.sum())
    if max_segments is not None and total / r > max_segments:
        raise InputError(
            f"resolution {r:.4g}{' (auto)' if res == 'auto' else ''} would cut the web's "
            f"{total:.4g} length units of thread into about {total / r:,.0f} segments "
            f"(limit {max_segments:,}); use a coarser resolution"
        )
    rng = np.random.default_rng(seed)
    length = web.edge_lengths
    n_piece = np.where(length >= _MIN_SPLIT * r, np.maximum(np.rint(length / r), 1), 1)
    n_piece = n_piece.astype(np.int64)
    frac = _piece_fractions(n_piece, segment_cv, rng)  # (P,), per edge summing to 1
    parent = np.repeat(np.arange(web.n_edges), n_piece)
    first = np.cumsum(n_piece) - n_piece  # index of each edge's first piece
    k = np.arange(len(parent)) - first[parent]  # piece number along its edge
    t_end = np.cumsum(frac) - np.repeat(np.cumsum(frac)[first] - frac[first], n_piece)
    # new nodes sit at the end of every piece but the last of its edge
    inner = k < n_piece[parent] - 1
    a, b = web.edges[parent, 0], web.edges[parent, 1]
    n0 = web.n_nodes
    new_id = n0 + np.cumsum(inner) - 1
    end = np.where(inner, new_id, b)
    start = np.where(k == 0, a, np.r_[0, end[:-1]])
    pa, pb = web.pos[a[inner]], web.pos[b[inner]]
    new_pos = pa + t_end[inner, None] * (pb - pa)
    pos = np.concatenate([web.pos, new_pos])
    edges = np.stack([start, end], axis=1)
    edge_attrs = {key: val[parent] for key, val in web.edge_attrs.items()}
    q_parent = _force_density(web)
    q_piece = q_parent[parent] / frac  # same tension: q l = q_piece l_piece
    if "force_density" in web.edge_attrs:
        edge_attrs["force_density"] = q_piece.astype(web.edge_attrs["force_density"].dtype)
    n_new = len(new_pos)
    node_attrs = {
        key: np.concatenate([val, np.zeros((n_new,) + val.shape[1:], val.dtype)])
        for key, val in web.node_attrs.items()
    }
    if n_new and sag > 0:
        pos = _sag(pos, edges, n0, q_piece, sag)
    if n_new and jitter > 0:
        direction = (pb - pa) / np.linalg.norm(pb - pa, axis=1, keepdims=True)
        noise = rng.normal(0.0, jitter * r, (n_new, 3))
        noise -= np.einsum("ij,ij->i", noise, direction)[:, None] * direction
        pos[n0:] += noise
    meta = dict(web.meta)
    meta["resample"] = {
        "resolution": r,
        "setting": res,
        "segment_cv": segment_cv,
        "jitter": jitter,
        "sag": sag,
        "seed": int(seed),
        "input_nodes": n0,
        "input_edges": web.n_edges,
    }
    return WebGraph(pos, edges, node_attrs, edge_attrs, meta)


def _piece_fractions(n_piece: np.ndarray, cv: float, rng: np.random.Generator) -> np.ndarray:
    """Fractions of each edge's length per piece (flat, edge by edge; each edge sums to 1).

    Dirichlet(alpha) proportions with ``alpha = 1 / cv**2`` (equal pieces when cv = 0),
    drawn as normalised gamma variates.
    """
    total = int(n_piece.sum())
    owner = np.repeat(np.arange(len(n_piece)), n_piece)
    if cv == 0:
        return 1.0 / n_piece[owner]
    alpha = 1.0 / cv**2
    g = rng.gamma(alpha, 1.0, total)
    g = np.maximum(g, 1e-6 * alpha)  # keep every piece of positive length
    return g / np.bincount(owner, weights=g)[owner]


def _force_density(web: WebGraph) -> np.ndarray:
    """(E,) force density per edge: the stored attribute, else the thread-type defaults."""
    if "force_density" in web.edge_attrs:
        q = np.asarray(web.edge_attrs["force_density"], np.float64)
        if q.shape != (web.n_edges,) or not np.all(np.isfinite(q)) or np.any(q <= 0):
            raise InputError("edge_attrs['force_density'] must hold one finite value > 0 per edge")
        return q
    from .shaping import edge_force_density

    return edge_force_density(web)


def _sag(pos: np.ndarray, edges: np.ndarray, n0: int, q: np.ndarray, sag: float) -> np.ndarray:
    """Heights of the new nodes in force-density equilibrium under their own weight.

    The load of a node is ``8 * sag`` per unit of straight thread length it carries (half
    of each adjacent piece), so a thread of force density q sags ``sag / q`` of its span
    at mid-span (parabola ``w l^2 / (8 T)`` with ``T = q l``).
    """
    from .shaping import form_find

    straight = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    carried = np.bincount(edges.ravel(), weights=np.repeat(straight / 2, 2), minlength=len(pos))
    loads = np.zeros_like(pos)
    loads[:, 2] = -8.0 * sag * carried
    fixed = np.zeros(len(pos), bool)
    fixed[:n0] = True
    return form_find(pos, edges, fixed, q, loads, axes=(2,))


__all__ = [
    "AUTO_FRACTION",
    "DEFAULT_JITTER",
    "DEFAULT_SAG",
    "DEFAULT_SEGMENT_CV",
    "AUTO_SPACING",
    "AUTO_SPACING_QUANTILE",
    "AUTO_MAX_REFINE",
    "auto_resolution",
    "parse_resolution",
    "resample",
    "thread_lengths",
    "thread_spacing",
]
