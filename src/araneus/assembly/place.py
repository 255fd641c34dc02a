"""Placing pieces along a curve and joining them into one web: :func:`assemble`.

Pieces are centred on their bounding box and placed at arc-length positions along the
curve, local x along the tangent and local z along the rotation-minimising "up" vector
(``orient="frame"``), or translated only (``orient="upright"``). Consecutive pieces are
spaced by ``(1 - overlap)`` times their mean size along the curve (the x extent; the largest
extent when upright), so graded pieces get graded spacing. Joining is done by
:class:`~araneus.assembly.join.Joiner` (see there).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..web import WebGraph
from .curves import DEFAULT_SAMPLES, Curve
from .families import CurveSpec
from .join import STITCH, Joiner, bridge_components
from .pieces import Schedule, _check_float, _check_int, _edge_scale, _Piece, _resolve_pieces

ORIENTS = ("frame", "upright")
_MIN_SAMPLES = 1024


@dataclass(frozen=True)
class AssemblyReport:
    """What :func:`assemble` did (counts, lengths in the pieces' units)."""

    curve: str
    closed: bool
    curve_length: float
    pieces: int
    placed_nodes: int
    nodes: int
    edges: int
    merged_nodes: int
    stitches: int
    bridges: int
    degree_limit_relaxed: int
    components: int
    spacing: float
    overlap: float
    effective_overlap: float
    tol: float
    stitch_radius: float
    max_degree: int
    window: int
    max_displacement: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)


def _positions(
    sizes: np.ndarray, overlap: float, curve_len: float | None, closed: bool
) -> tuple[np.ndarray, float]:
    """Arc-length positions (K,) and the factor applied to the nominal gaps."""
    k = len(sizes)
    gaps = (1 - overlap) * (sizes + np.roll(sizes, -1)) / 2
    if not closed:
        gaps = gaps[:-1]
    if k == 1 or curve_len is None:
        return np.r_[0.0, np.cumsum(gaps)][:k], 1.0
    factor = curve_len / gaps.sum()
    return np.r_[0.0, np.cumsum(gaps)][:k] * factor, factor


def _chunk(
    uniq: list[_Piece], idx: np.ndarray, centers: np.ndarray, rots: np.ndarray, p0: int, p1: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Placed positions, piece index, edges (chunk-local) and threads of pieces [p0, p1)."""
    ks = np.arange(p0, p1)
    u_ids = idx[ks]
    counts = np.array([len(uniq[u].pos) for u in u_ids], dtype=np.int64)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    pos = np.empty((int(counts.sum()), 3))
    edges, threads = [], []
    for u in np.flatnonzero(np.bincount(u_ids)):
        sel = np.flatnonzero(u_ids == u)
        pc = uniq[u]
        blk = np.einsum("kij,nj->kni", rots[ks[sel]], pc.pos) + centers[ks[sel]][:, None, :]
        rows = (starts[sel][:, None] + np.arange(len(pc.pos))).ravel()
        pos[rows] = blk.reshape(-1, 3)
        edges.append((pc.edges[None] + starts[sel][:, None, None]).reshape(-1, 2))
        threads.append(np.tile(pc.threads, len(sel)))
    e = np.concatenate(edges)
    order = np.argsort(e[:, 0], kind="stable")
    return pos, np.repeat(ks, counts), e[order], np.concatenate(threads)[order]


def _first_unique_edges(edges: np.ndarray, n: int) -> np.ndarray:
    """Sorted row indices of the first occurrence of each undirected edge (no self-loops).

    Sort-based (O(E log E)); ``np.unique`` on int64 keys is far slower at this scale.
    """
    lo = np.minimum(edges[:, 0], edges[:, 1])
    hi = np.maximum(edges[:, 0], edges[:, 1])
    rows = np.flatnonzero(lo != hi)
    if not len(rows):
        return rows
    key = lo[rows] * n + hi[rows]
    order = np.argsort(key)
    ks = key[order]
    start = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    return np.sort(rows[np.minimum.reduceat(order, start)])


@dataclass(frozen=True, eq=False)
class Placement:
    """Where every piece goes: the output of :func:`plan_assembly`.

    Attributes
    ----------
    curve : the sampled curve.
    s : (K,) arc-length position of each piece's centre.
    centers : (K, 3) piece centres on the curve.
    rotations : (K, 3, 3) local-to-world rotations (columns: tangent, side, up).
    pieces : unique prepared pieces (centred, scaled local positions, edges, threads).
    index : (K,) which unique piece each placement uses.
    """

    curve: Curve
    s: np.ndarray
    centers: np.ndarray
    rotations: np.ndarray
    pieces: list[_Piece]
    index: np.ndarray
    overlap: float
    stretch: float
    tol: float
    stitch_radius: float
    window: int

    @property
    def n_pieces(self) -> int:
        return len(self.index)

    def placed_positions(self, k: int) -> np.ndarray:
        """(n, 3) positions where placement ``k`` puts its piece's nodes."""
        pc = self.pieces[int(self.index[k])]
        return pc.pos @ self.rotations[k].T + self.centers[k]


def _build_curve(
    curve: Curve | CurveSpec,
    uniq: list[_Piece],
    idx: np.ndarray | None,
    steps: int | None,
    overlap: float,
    n_samples: int | None,
) -> tuple[Curve, np.ndarray, np.ndarray, float]:
    """Sample the curve and place K pieces on it: (curve, index, s, stretch factor)."""
    free = isinstance(curve, CurveSpec) and curve.free_length
    mean_size = float(np.mean([p.size for p in uniq]))
    built = curve if isinstance(curve, Curve) else None
    if steps is None:
        if free:
            if len(uniq) < 2:
                raise InputError(
                    f"steps is required for a {curve.name} curve without a set extent "
                    "(turns/length)"
                )
            steps = len(uniq)
        else:
            built = built or curve.build(None, n_samples or DEFAULT_SAMPLES)
            nominal = built.length / ((1 - overlap) * mean_size)
            steps = max(1, int(round(nominal)) + (0 if built.closed else 1))
    k = steps
    if idx is None:
        idx = np.arange(k) % len(uniq)
    sizes = np.array([uniq[u].size for u in idx])
    if free:
        s, factor = _positions(sizes, overlap, None, False)
        n = n_samples or max(_MIN_SAMPLES, 8 * k)
        built = curve.build(max(float(s[-1]), float(sizes[0])), n)
    else:
        if built is None or (
            n_samples is None and isinstance(curve, CurveSpec) and 8 * k > len(built.points)
        ):
            built = curve.build(None, n_samples or max(_MIN_SAMPLES, 8 * k))
        s, factor = _positions(sizes, overlap, built.length, built.closed)
    return built, idx, s, factor


def plan_assembly(
    curve: Curve | CurveSpec | str,
    pieces: Any,
    *,
    steps: int | None = None,
    overlap: float = 0.5,
    orient: str = "frame",
    scale: float = 1.0,
    tol: float | None = None,
    stitch_radius: float | None = None,
    conditions: Schedule | None = None,
    seed: int = 0,
    window: int | None = None,
    n_samples: int | None = None,
) -> Placement:
    """Decide where every piece goes (no joining); arguments as in :func:`assemble`."""
    if orient not in ORIENTS:
        raise InputError(f"orient must be one of {', '.join(ORIENTS)}, got {orient!r}")
    if steps is not None:
        steps = _check_int("steps", steps, 1)
    overlap = _check_float("overlap", overlap, 0.0)
    if overlap >= 1:
        raise InputError(f"overlap must be in [0, 1), got {overlap}")
    scale = _check_float("scale", scale, 0.0, lo_open=True)
    seed = _check_int("seed", seed, 0)
    if isinstance(curve, str):
        curve = CurveSpec(curve)
    if not isinstance(curve, (Curve, CurveSpec)):
        raise InputError(
            f"curve must be a Curve, CurveSpec or curve name, got {type(curve).__name__}"
        )
    uniq, idx = _resolve_pieces(pieces, steps, conditions, seed, scale, orient)
    edge_len = _edge_scale(uniq)
    tol = 0.1 * edge_len if tol is None else _check_float("tol", tol, 0.0)
    radius = (
        edge_len if stitch_radius is None else _check_float("stitch_radius", stitch_radius, 0.0)
    )
    built, idx, s, factor = _build_curve(curve, uniq, idx, steps, overlap, n_samples)
    k = len(idx)
    centers, rots = built.frames_at(s)
    if orient == "upright":
        rots = np.broadcast_to(np.eye(3), (k, 3, 3))
    sizes = np.array([uniq[u].size for u in idx])
    if window is None:
        min_gap = float(np.diff(s).min()) if k > 1 else float(sizes[0])
        reach = float(sizes.max()) + radius
        window = int(min(max(1, math.ceil(reach / max(min_gap, 1e-12 * reach))), max(1, k - 1)))
    else:
        window = _check_int("window", window, 1)
    return Placement(built, s, centers, rots, uniq, idx, overlap, factor, tol, radius, window)


def assemble(
    curve: Curve | CurveSpec | str,
    pieces: Any,
    *,
    steps: int | None = None,
    overlap: float = 0.5,
    orient: str = "frame",
    scale: float = 1.0,
    tol: float | None = None,
    stitch_radius: float | None = None,
    max_degree: int = 5,
    conditions: Schedule | None = None,
    seed: int = 0,
    window: int | None = None,
    n_samples: int | None = None,
    chunk_nodes: int = 16384,
) -> tuple[WebGraph, AssemblyReport]:
    """Assemble pieces along a curve into one connected web.

    Parameters
    ----------
    curve
        A :class:`Curve` (fixed length), a :class:`CurveSpec` or a curve name (helix without
        ``turns`` and line without ``length`` are built as long as the pieces need).
    pieces
        One :class:`WebGraph` (reused at every placement), a list of them (used in turn,
        cycling), or a generator: any object with ``sample(conditions, n, *, seed=None) ->
        list[WebGraph]``, called once per placement with ``conditions`` evaluated there.
    steps
        Number of placements K. Required for generators and free-length curves (unless a
        list gives it); otherwise, if omitted, K follows from the curve length and spacing.
        On a fixed-length curve, the spacing is stretched to fit K pieces exactly
        (see ``effective_overlap`` in the report).
    overlap
        Fraction of the piece size (along the curve) shared by consecutive pieces, in [0, 1).
    orient
        ``"frame"`` (local x along the tangent, local z along the rotation-minimising up
        vector) or ``"upright"`` (pieces only translated).
    scale
        Factor applied to every piece (> 0).
    tol
        Merge tolerance (length units): a node of a later piece within ``tol`` of a surviving
        node of an earlier piece (at most ``window`` pieces back) is merged into it. Default
        0.1 x the median edge length of the pieces.
    stitch_radius
        Stitching threads join mutual nearest nodes of different pieces closer than this;
        0 disables stitching. Default: the median edge length of the pieces.
    max_degree
        Stitches only join nodes of degree < ``max_degree``, one stitch per node at most, so
        they never exceed it (merging may: a merged node keeps all its threads).
    conditions
        Generator conditions per name: a constant, a ``(start, end)`` ramp, or a callable of
        u in [0, 1] (first to last placement).
    seed
        Base seed; placement i samples with a seed derived from ``(seed, i)``.
    window
        How many pieces back a piece is joined to; default from piece sizes and spacing.
    n_samples
        Curve samples for a :class:`CurveSpec` (default max(1024, 8 K)).
    chunk_nodes
        Approximate number of nodes processed per chunk (memory/speed trade-off only;
        the result does not depend on it).

    Returns
    -------
    web : WebGraph
        One connected component; ``node_attrs["piece"]`` (int32) is the placement that put
        each node, ``edge_attrs["thread"]`` carries the pieces' thread codes and ``"stitch"``
        for the joins; ``meta["assembly"]`` holds the report.
    report : AssemblyReport
    """
    max_degree = _check_int("max_degree", max_degree, 1)
    chunk_nodes = _check_int("chunk_nodes", chunk_nodes, 1)
    plan = plan_assembly(
        curve,
        pieces,
        steps=steps,
        overlap=overlap,
        orient=orient,
        scale=scale,
        tol=tol,
        stitch_radius=stitch_radius,
        conditions=conditions,
        seed=seed,
        window=window,
        n_samples=n_samples,
    )
    return join_placement(plan, max_degree=max_degree, chunk_nodes=chunk_nodes)


def join_placement(
    plan: Placement, *, max_degree: int = 5, chunk_nodes: int = 16384
) -> tuple[WebGraph, AssemblyReport]:
    """Join the pieces of a :class:`Placement` into one web (see :func:`assemble`)."""
    k, idx, uniq = plan.n_pieces, plan.index, plan.pieces
    built, window = plan.curve, plan.window
    n_nodes = np.array([len(p.pos) for p in uniq])[idx]
    joiner = Joiner(
        k,
        int(n_nodes.sum()),
        built.closed,
        window,
        plan.tol,
        plan.stitch_radius,
        max_degree,
    )
    per_chunk = max(window, math.ceil(chunk_nodes / max(1.0, float(n_nodes.mean()))))
    for p0 in range(0, k, per_chunk):
        p1 = min(k, p0 + per_chunk)
        joiner.add_chunk(*_chunk(uniq, idx, plan.centers, plan.rotations, p0, p1), p0, p1)

    pos, node_piece, edges, threads, stitched = joiner.arrays()
    links, relaxed = bridge_components(pos, edges, max_degree)
    edges = np.concatenate([edges, links])
    threads = np.concatenate([threads, np.full(len(links), STITCH, np.int8)])
    origin = np.concatenate([stitched.astype(np.int8), np.full(len(links), 2, np.int8)])
    keep = _first_unique_edges(edges, len(pos))
    e = np.sort(edges[keep], axis=1)
    origin = origin[keep]
    report = AssemblyReport(
        curve=built.name,
        closed=built.closed,
        curve_length=float(built.length),
        pieces=k,
        placed_nodes=int(n_nodes.sum()),
        nodes=len(pos),
        edges=len(e),
        merged_nodes=joiner.merged,
        stitches=int(np.count_nonzero(origin == 1)),
        bridges=int(np.count_nonzero(origin == 2)),
        degree_limit_relaxed=relaxed,
        components=1 if len(pos) else 0,
        spacing=float(np.mean(np.diff(plan.s))) if k > 1 else 0.0,
        overlap=plan.overlap,
        effective_overlap=float(1 - plan.stretch * (1 - plan.overlap)),
        tol=float(plan.tol),
        stitch_radius=float(plan.stitch_radius),
        max_degree=max_degree,
        window=window,
        max_displacement=joiner.max_displacement,
    )
    meta = {"source": "araneus.assemble", "curve": {"name": built.name, **built.params}}
    meta["assembly"] = report.as_dict()
    web = WebGraph(
        pos,
        e,
        node_attrs={"piece": node_piece.astype(np.int32)},
        edge_attrs={"thread": threads[keep]},
        meta=meta,
    )
    return web, report


__all__ = [
    "assemble",
    "plan_assembly",
    "join_placement",
    "Placement",
    "AssemblyReport",
    "ORIENTS",
    "Schedule",
]
