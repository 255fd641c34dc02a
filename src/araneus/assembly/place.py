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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import AraneusError, InputError, ModelError
from ..web import WebGraph, canonicalize_edges
from .curves import DEFAULT_SAMPLES, Curve, CurveSpec
from .join import STITCH, Joiner, bridge_components

#: A conditions schedule: name -> constant, (start, end) linear ramp, or callable u -> value,
#: with u in [0, 1] the placement's position from the first to the last piece.
Schedule = Mapping[str, "float | tuple[float, float] | Callable[[float], float]"]

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


@dataclass(frozen=True)
class _Piece:
    pos: np.ndarray  # (n, 3) centred and scaled local positions
    edges: np.ndarray  # (e, 2)
    threads: np.ndarray  # (e,) int8
    size: float  # extent along the curve


def _prepare(web: Any, scale: float, orient: str, what: str) -> _Piece:
    if not isinstance(web, WebGraph):
        raise InputError(f"{what} must be a WebGraph, got {type(web).__name__}")
    if web.n_nodes == 0:
        raise InputError(f"{what} is empty (no nodes)")
    lo, hi = web.bbox()
    pos = (web.pos - (lo + hi) / 2) * scale
    ext = (hi - lo) * scale
    size = float(ext[0]) if orient == "frame" and ext[0] > 0 else float(ext.max())
    if size <= 0:
        raise InputError(f"{what} has zero extent; it cannot be spaced along a curve")
    thr = web.edge_attrs.get("thread")
    threads = (
        np.asarray(thr, dtype=np.int8)
        if thr is not None and thr.ndim == 1
        else np.zeros(web.n_edges, np.int8)
    )
    return _Piece(np.ascontiguousarray(pos), np.asarray(web.edges, np.int64), threads, size)


def _check_int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise InputError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _check_float(name: str, value: Any, lo: float, lo_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < lo or (lo_open and v == lo):
        raise InputError(
            f"{name} must be finite and {'>' if lo_open else '>='} {lo}, got {value!r}"
        )
    return v


def _schedule_values(conditions: Schedule | None, u: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, spec in (conditions or {}).items():
        if callable(spec):
            val = spec(u)
        elif isinstance(spec, (tuple, list)):
            if len(spec) != 2:
                raise InputError(f"condition {name!r}: a ramp is (start, end), got {spec!r}")
            val = spec[0] + (spec[1] - spec[0]) * u
        else:
            val = spec
        try:
            v = float(val)
        except (TypeError, ValueError):
            raise InputError(f"condition {name!r} gave a non-number {val!r} at u={u:.3g}") from None
        if not math.isfinite(v):
            raise InputError(f"condition {name!r} is not finite at u={u:.3g}")
        out[str(name)] = v
    return out


def _sample_generator(
    gen: Any, conditions: Schedule | None, k: int, seed: int, scale: float, orient: str
) -> list[_Piece]:
    """Call ``gen.sample`` once per placement with the scheduled conditions."""
    pieces = []
    for i in range(k):
        u = i / (k - 1) if k > 1 else 0.0
        cond = _schedule_values(conditions, u)
        sub_seed = int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        try:
            out = gen.sample(cond, 1, seed=sub_seed)
        except AraneusError:
            raise
        except Exception as exc:  # noqa: BLE001 - a foreign generator failed: say where
            raise ModelError(f"generator failed at placement {i} with {cond}: {exc}") from exc
        if not isinstance(out, (list, tuple)) or not out:
            raise ModelError(f"generator returned no piece at placement {i}")
        pieces.append(_prepare(out[0], scale, orient, f"generated piece {i}"))
    return pieces


def _resolve_pieces(
    pieces: Any,
    steps: int | None,
    conditions: Schedule | None,
    seed: int,
    scale: float,
    orient: str,
) -> tuple[list[_Piece], np.ndarray | None]:
    """Unique pieces and, for fixed pieces, nothing yet (indices depend on K)."""
    if isinstance(pieces, WebGraph):
        return [_prepare(pieces, scale, orient, "piece")], None
    if isinstance(pieces, (list, tuple)):
        if not pieces:
            raise InputError("pieces: the list of pieces is empty")
        return [_prepare(w, scale, orient, f"piece {i}") for i, w in enumerate(pieces)], None
    if callable(getattr(pieces, "sample", None)):
        if steps is None:
            raise InputError("steps is required when pieces come from a generator")
        return _sample_generator(pieces, conditions, steps, seed, scale, orient), np.arange(steps)
    raise InputError(
        "pieces must be a WebGraph, a list of WebGraphs, or a generator with "
        f"sample(conditions, n, seed=...); got {type(pieces).__name__}"
    )


def _edge_scale(uniq: list[_Piece]) -> float:
    lens = [np.linalg.norm(p.pos[p.edges[:, 1]] - p.pos[p.edges[:, 0]], axis=1) for p in uniq]
    lens = np.concatenate(lens) if lens else np.zeros(0)
    lens = lens[lens > 0]
    return float(np.median(lens)) if len(lens) else 0.1 * float(np.mean([p.size for p in uniq]))


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
    for u in np.unique(u_ids):
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
    stitch_rounds: int = 1,
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
        Stitches only use nodes of degree < ``max_degree`` (merging may exceed it: a merged
        node keeps all its threads).
    stitch_rounds
        Rounds of mutual-nearest stitching (each adds at most one stitch per node).
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
    if orient not in ORIENTS:
        raise InputError(f"orient must be one of {', '.join(ORIENTS)}, got {orient!r}")
    if steps is not None:
        steps = _check_int("steps", steps, 1)
    overlap = _check_float("overlap", overlap, 0.0)
    if overlap >= 1:
        raise InputError(f"overlap must be in [0, 1), got {overlap}")
    scale = _check_float("scale", scale, 0.0, lo_open=True)
    max_degree = _check_int("max_degree", max_degree, 1)
    stitch_rounds = _check_int("stitch_rounds", stitch_rounds, 0)
    seed = _check_int("seed", seed, 0)
    chunk_nodes = _check_int("chunk_nodes", chunk_nodes, 1)
    if isinstance(curve, str):
        curve = CurveSpec(curve)
    if not isinstance(curve, (Curve, CurveSpec)):
        raise InputError(
            f"curve must be a Curve, CurveSpec or curve name, got {type(curve).__name__}"
        )

    uniq, idx = _resolve_pieces(pieces, steps, conditions, seed, scale, orient)
    edge_len = _edge_scale(uniq)
    tol = 0.1 * edge_len if tol is None else _check_float("tol", tol, 0.0)
    stitch_radius = (
        1.5 * edge_len
        if stitch_radius is None
        else _check_float("stitch_radius", stitch_radius, 0.0)
    )

    free = isinstance(curve, CurveSpec) and curve.free_length
    mean_size = float(np.mean([p.size for p in uniq]))
    built = curve if isinstance(curve, Curve) else None
    if steps is None:
        if free:
            if len(uniq) < 2:
                raise InputError(
                    f"steps is required for a {curve.name} curve without a set extent (turns/length)"
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
        built = curve.build(
            max(float(s[-1]), float(sizes[0])), n_samples or max(_MIN_SAMPLES, 8 * k)
        )
    else:
        if built is None or (
            n_samples is None and isinstance(curve, CurveSpec) and 8 * k > len(built.points)
        ):
            built = curve.build(None, n_samples or max(_MIN_SAMPLES, 8 * k))
        s, factor = _positions(sizes, overlap, built.length, built.closed)
    closed = built.closed
    centers, rots = built.frames_at(s)
    if orient == "upright":
        rots = np.broadcast_to(np.eye(3), (k, 3, 3))

    gaps = np.diff(s) if k > 1 else np.array([mean_size])
    min_gap = float(gaps.min()) if len(gaps) else mean_size
    if window is None:
        reach = float(sizes.max()) + stitch_radius
        window = int(min(max(1, math.ceil(reach / max(min_gap, 1e-12 * reach))), max(1, k - 1)))
    else:
        window = _check_int("window", window, 1)
    n_nodes = np.array([len(p.pos) for p in uniq])[idx]
    joiner = Joiner(
        k, int(n_nodes.sum()), closed, window, tol, stitch_radius, max_degree, stitch_rounds
    )
    per_chunk = max(window, math.ceil(chunk_nodes / max(1.0, float(n_nodes.mean()))))
    for p0 in range(0, k, per_chunk):
        p1 = min(k, p0 + per_chunk)
        joiner.add_chunk(*_chunk(uniq, idx, centers, rots, p0, p1), p0, p1)

    pos, node_piece, edges, threads, stitched = joiner.arrays()
    links, relaxed = bridge_components(pos, edges, max_degree)
    edges = np.concatenate([edges, links])
    threads = np.concatenate([threads, np.full(len(links), STITCH, np.int8)])
    origin = np.concatenate([stitched.astype(np.int8), np.full(len(links), 2, np.int8)])
    e, keep, _ = canonicalize_edges(edges, len(pos))
    origin = origin[keep]
    eff = 1 - factor * (1 - overlap)
    report = AssemblyReport(
        curve=built.name,
        closed=closed,
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
        spacing=float(np.mean(gaps)) if k > 1 else 0.0,
        overlap=overlap,
        effective_overlap=float(eff),
        tol=float(tol),
        stitch_radius=float(stitch_radius),
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


__all__ = ["assemble", "AssemblyReport", "ORIENTS", "Schedule"]
