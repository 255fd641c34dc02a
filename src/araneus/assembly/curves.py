"""Design curves for hierarchical assembly: arc-length sampling and rotation-minimising frames.

A :class:`Curve` is a dense polyline sampled at uniform arc length (``ds = length / (M - 1)``
for open curves, ``length / M`` for closed ones, whose last sample is followed by the first).
Frames along it are computed by parallel transport (rotation-minimising frames, the double
reflection method of Wang et al., ACM TOG 27, 2008), fully vectorised: each segment's
transport is measured as an angle against a per-sample reference vector and the angles are
summed, so there is no Python loop over samples and no flip at inflection points (where the
Frenet frame is undefined). On a closed curve the transport around the loop generally does
not return to the starting frame (holonomy); that twist is spread evenly along the curve so
the frame field is continuous across the seam.

Curves come from any Python callable ``t -> (x, y, z)`` (:meth:`Curve.from_function`), from a
polyline (:meth:`Curve.from_points`), or from the named families of
:mod:`araneus.assembly.families` (helix, the reference's closed curve, Lorenz attractor,
circle, line, spline through points).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import InputError

#: Default number of uniform arc-length samples of a curve.
DEFAULT_SAMPLES = 2048
#: Refinement factor of the dense parameter grid used to invert arc length.
_DENSE_FACTOR = 4
_MAX_SAMPLES = 8_000_000


class Curve:
    """A space curve sampled at uniform arc length, with rotation-minimising frames.

    Parameters
    ----------
    points
        (M, 3) samples at uniform arc length, M >= 2 (>= 3 if closed). For a closed curve the
        first sample is not repeated at the end.
    closed
        Whether the curve closes on itself (the segment from the last sample to the first
        belongs to the curve).
    name
        Label used in reports and metadata.
    params
        JSON-serialisable parameters the curve was made from (kept in metadata).
    """

    def __init__(
        self,
        points: Any,
        closed: bool = False,
        name: str = "curve",
        params: dict[str, Any] | None = None,
    ):
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 3:
            raise InputError(f"curve points must have shape (M, 3), got {p.shape}")
        if len(p) < (3 if closed else 2):
            raise InputError(
                f"a {'closed' if closed else 'open'} curve needs more points, got {len(p)}"
            )
        bad = ~np.isfinite(p).all(axis=1)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InputError(f"curve point {r} is not finite: {p[r].tolist()}")
        seg = np.diff(np.vstack([p, p[:1]]) if closed else p, axis=0)
        seg_len = np.linalg.norm(seg, axis=1)
        if seg_len.sum() <= 0:
            raise InputError(f"curve {name!r} has zero length")
        p.flags.writeable = False
        self.points = p
        self.closed = bool(closed)
        self.name = name
        self.params = dict(params or {})
        self.length = float(seg_len.sum())
        self.ds = self.length / (len(p) if closed else len(p) - 1)

    def __repr__(self) -> str:
        kind = "closed" if self.closed else "open"
        return f"Curve({self.name!r}, {kind}, length={self.length:.4g}, samples={len(self.points)})"

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_function(
        cls,
        func: Callable[..., Any],
        t_range: tuple[float, float] = (0.0, 1.0),
        *,
        closed: bool = False,
        n_samples: int = DEFAULT_SAMPLES,
        name: str = "function",
        params: dict[str, Any] | None = None,
    ) -> Curve:
        """Sample ``func(t) -> (x, y, z)`` for ``t`` in ``t_range`` at uniform arc length.

        ``func`` may be vectorised (given a (n,) array, return (n, 3) or (3, n)); otherwise
        it is called once per parameter value. The curve is evaluated on a dense parameter
        grid, its chord length accumulated, and the parameter values of uniform arc-length
        samples found by interpolation; the samples then lie exactly on the curve.
        For ``closed=True`` the function must return to its start at ``t_range[1]``.
        """
        t0, t1 = (float(v) for v in t_range)
        if not (np.isfinite(t0) and np.isfinite(t1)) or t1 <= t0:
            raise InputError(f"t_range must be two finite numbers t0 < t1, got {t_range}")
        m = _check_samples(n_samples)
        t = np.linspace(t0, t1, _DENSE_FACTOR * m + 1)
        pts = _evaluate(func, t, name)
        chord = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]
        length = chord[-1]
        if length <= 0:
            raise InputError(f"curve {name!r} has zero length on t in [{t0}, {t1}]")
        if closed:
            gap = float(np.linalg.norm(pts[-1] - pts[0]))
            if gap > 1e-6 * length + 1e-12:
                raise InputError(
                    f"curve {name!r} is marked closed but its ends are {gap:.3g} apart"
                )
            s = np.arange(m) * (length / m)
        else:
            s = np.linspace(0.0, length, m)
        tu = np.interp(s, chord, t)
        return cls(_evaluate(func, tu, name), closed, name, params)

    @classmethod
    def from_points(
        cls,
        points: Any,
        *,
        closed: bool = False,
        n_samples: int = DEFAULT_SAMPLES,
        name: str = "polyline",
        params: dict[str, Any] | None = None,
    ) -> Curve:
        """Resample a polyline (K, 3) at uniform arc length (linear between vertices)."""
        p = _points_array(points, "points")
        if closed:
            p = np.vstack([p, p[:1]])
        chord = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))]
        keep = np.r_[True, np.diff(chord) > 0]
        p, chord = p[keep], chord[keep]
        if len(p) < 2:
            raise InputError(f"polyline {name!r} has zero length")
        m = _check_samples(n_samples)
        s = np.arange(m) * (chord[-1] / m) if closed else np.linspace(0.0, chord[-1], m)
        out = np.stack([np.interp(s, chord, p[:, d]) for d in range(3)], axis=1)
        return cls(out, closed, name, params)

    # ------------------------------------------------------------------ frames
    @cached_property
    def tangents(self) -> np.ndarray:
        """(M, 3) unit tangents at the samples (central differences)."""
        p = self.points
        if self.closed:
            d = np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)
        else:
            d = np.gradient(p, axis=0)
        n = np.linalg.norm(d, axis=1)
        if np.any(n <= 1e-12 * self.ds):
            raise InputError(f"curve {self.name!r} has a cusp (tangent undefined)")
        out = d / n[:, None]
        out.flags.writeable = False
        return out

    @cached_property
    def ups(self) -> np.ndarray:
        """(M, 3) unit "up" vectors of the rotation-minimising frame (perpendicular to T).

        The first one is world z projected off the tangent (world x if the curve starts
        vertically); the rest follow by parallel transport. Closed curves spread the holonomy
        twist evenly so that the frame is continuous across the seam.
        """
        out = _rmf_ups(self.points, self.tangents, self.closed)
        out.flags.writeable = False
        return out

    def frames_at(self, s: Any) -> tuple[np.ndarray, np.ndarray]:
        """Positions and frames at arc lengths ``s``.

        Parameters
        ----------
        s
            (K,) arc lengths from the start (length units); wrapped for closed curves,
            clipped to ``[0, length]`` for open ones.

        Returns
        -------
        pos : (K, 3) points on the curve.
        rot : (K, 3, 3) rotations whose columns are (tangent, side, up): a local vector
            ``v`` maps to ``rot @ v``, so local x follows the curve and local z is "up".
        """
        s = np.atleast_1d(np.asarray(s, dtype=np.float64))
        if not np.all(np.isfinite(s)):
            raise InputError("arc lengths must be finite")
        m = len(self.points)
        if self.closed:
            u = np.mod(s, self.length) / self.ds
            i0 = np.floor(u)
            w = (u - i0)[:, None]
            i = i0.astype(np.int64) % m
            j = (i + 1) % m
        else:
            u = np.clip(s, 0.0, self.length) / self.ds
            i = np.clip(np.floor(u).astype(np.int64), 0, m - 2)
            w = (u - i)[:, None]
            j = i + 1
        p, t, up = self.points, self.tangents, self.ups
        pos = (1 - w) * p[i] + w * p[j]
        tan = _unit((1 - w) * t[i] + w * t[j])
        upv = (1 - w) * up[i] + w * up[j]
        upv = _unit(upv - np.sum(upv * tan, axis=1, keepdims=True) * tan)
        side = _cross(upv, tan)
        return pos, np.stack([tan, side, upv], axis=-1)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (n, 3) arrays (cheaper than ``np.cross`` for this case)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _check_samples(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 8 <= n <= _MAX_SAMPLES:
        raise InputError(f"n_samples must be an integer in [8, {_MAX_SAMPLES}], got {n!r}")
    return int(n)


def _points_array(points: Any, what: str) -> np.ndarray:
    try:
        p = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numeric (K, 3)") from None
    if p.ndim != 2 or p.shape[1] != 3:
        raise InputError(f"{what} must have shape (K, 3), got {p.shape}")
    bad = ~np.isfinite(p).all(axis=1)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what} row {r} is not finite: {p[r].tolist()}")
    return p


def _evaluate(func: Callable[..., Any], t: np.ndarray, name: str) -> np.ndarray:
    """Evaluate a curve function on (n,) parameters, vectorised if it allows it."""
    n = len(t)
    out = None
    try:
        arr = np.asarray(func(t), dtype=np.float64)
        if arr.shape == (n, 3):
            out = arr
        elif arr.shape == (3, n):
            out = arr.T
    except Exception:  # noqa: BLE001 - not vectorised: fall back to scalar calls
        out = None
    if out is None:
        try:
            out = np.array([np.asarray(func(float(v)), dtype=np.float64) for v in t])
        except Exception as exc:  # noqa: BLE001 - a user function failed: say where
            raise InputError(f"curve function {name!r} failed: {exc}") from None
        if out.shape != (n, 3):
            raise InputError(
                f"curve function {name!r} must return 3 numbers (x, y, z) per t, "
                f"got shape {out.shape[1:]}"
            )
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"curve function {name!r} returned a non-finite point {out[r].tolist()} at t={t[r]:.6g}"
        )
    return np.ascontiguousarray(out)


def _rmf_ups(p: np.ndarray, t: np.ndarray, closed: bool) -> np.ndarray:
    """Rotation-minimising "up" vectors by vectorised double reflection (see module doc)."""
    m = len(p)
    # Reference field: the world axis least aligned with T, projected off T (never degenerate).
    axis = np.eye(3)[np.argmin(np.abs(t), axis=1)]
    ref = _unit(axis - np.sum(axis * t, axis=1, keepdims=True) * t)
    z = np.array([0.0, 0.0, 1.0])
    start = z if np.linalg.norm(np.cross(t[0], z)) > 1e-3 else np.array([1.0, 0.0, 0.0])
    ref[0] = _unit(start - (start @ t[0]) * t[0])
    nxt = np.roll(np.arange(m), -1) if closed else np.arange(1, m)
    cur = np.arange(len(nxt))
    v1 = p[nxt] - p[cur]
    c1 = np.sum(v1 * v1, axis=1, keepdims=True)
    r_l = ref[cur] - (2.0 / c1) * np.sum(v1 * ref[cur], axis=1, keepdims=True) * v1
    t_l = t[cur] - (2.0 / c1) * np.sum(v1 * t[cur], axis=1, keepdims=True) * v1
    v2 = t[nxt] - t_l
    c2 = np.sum(v2 * v2, axis=1, keepdims=True)
    safe = np.where(c2 > 1e-30, c2, 1.0)
    r = np.where(c2 > 1e-30, r_l - (2.0 / safe) * np.sum(v2 * r_l, axis=1, keepdims=True) * v2, r_l)
    side = _cross(t[nxt], ref[nxt])
    delta = np.arctan2(np.sum(r * side, axis=1), np.sum(r * ref[nxt], axis=1))
    theta = np.r_[0.0, np.cumsum(delta[: m - 1])]
    if closed:
        total = theta[-1] + delta[-1]
        twist = math.remainder(total, 2 * math.pi)
        theta = theta - twist * np.arange(m) / m
    return np.cos(theta)[:, None] * ref + np.sin(theta)[:, None] * _cross(t, ref)


__all__ = ["Curve", "DEFAULT_SAMPLES"]
