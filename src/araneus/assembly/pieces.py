"""Piece sources for assembly: fixed webs, lists of webs, or generators with schedules.

A piece is centred on its bounding box and scaled; its *size* (extent along the curve) sets
the spacing. A generator is any object with ``sample(conditions, n, *, seed=None) ->
list[WebGraph]`` (the models' ``WebGenerator`` interface); it is called once per placement
with conditions from a :data:`Schedule` evaluated at that placement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AraneusError, InputError, ModelError
from ..web import WebGraph

#: A conditions schedule: name -> constant, (start, end) linear ramp, or callable u -> value,
#: with u in [0, 1] the placement's position from the first to the last piece.
Schedule = Mapping[str, "float | tuple[float, float] | Callable[[float], float]"]


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
