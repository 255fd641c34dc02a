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
polyline (:meth:`Curve.from_points`), or from the named families in :data:`CURVES` (helix,
the reference's closed curve, Lorenz attractor, circle, line, spline through points).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .._util import apply_overrides
from ..errors import ConfigError, FormatError, InputError

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
        side = np.cross(upv, tan)
        return pos, np.stack([tan, side, upv], axis=-1)


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
    side = np.cross(t[nxt], ref[nxt])
    delta = np.arctan2(np.sum(r * side, axis=1), np.sum(r * ref[nxt], axis=1))
    theta = np.r_[0.0, np.cumsum(delta[: m - 1])]
    if closed:
        total = theta[-1] + delta[-1]
        twist = math.remainder(total, 2 * math.pi)
        theta = theta - twist * np.arange(m) / m
    return np.cos(theta)[:, None] * ref + np.sin(theta)[:, None] * np.cross(t, ref)


# ---------------------------------------------------------------------- named curve families
def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"curve parameter {name} must be a number, got {value!r}") from None
    ok = math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        raise ConfigError(
            f"curve parameter {name} must be {'>= 0' if allow_zero else '> 0'}, got {value}"
        )


@dataclass(frozen=True)
class HelixParams:
    """Helix around the z axis: ``(r cos phi, r sin phi, pitch * phi / 2 pi)``.

    ``pitch`` is the rise per full turn (the reference's 5 per 10-degree step is 180);
    ``turns`` fixes the extent; left unset, the helix is as long as the pieces need.
    """

    radius: float = 20.0
    pitch: float = 180.0
    turns: Optional[float] = None  # noqa: UP045 - apply_overrides parses Optional, not X | None

    def __post_init__(self) -> None:
        _positive("radius", self.radius)
        if not np.isfinite(self.pitch):
            raise ConfigError(f"curve parameter pitch must be finite, got {self.pitch}")
        if self.turns is not None:
            _positive("turns", self.turns)


@dataclass(frozen=True)
class ReferenceParams:
    """The reference's curve ``((2 + cos 1.5t) cos t, (2 + cos 1.5t) sin t, sin 1.5t) * scale``.

    Over its period ``t in [0, 4 pi]`` it is a closed trefoil knot; ``t_end`` (e.g. 10, as in
    the reference) takes the open piece ``t in [0, t_end]`` instead.
    """

    scale: float = 10.0
    t_end: Optional[float] = None  # noqa: UP045

    def __post_init__(self) -> None:
        _positive("scale", self.scale)
        if self.t_end is not None:
            _positive("t_end", self.t_end)


@dataclass(frozen=True)
class LorenzParams:
    """Lorenz attractor trajectory, fixed-step RK4, transient dropped, times ``scale``."""

    sigma: float = 10.0
    rho: float = 28.0
    beta: float = 8.0 / 3.0
    dt: float = 0.005
    duration: float = 10.0
    transient: float = 1.0
    start: tuple[float, ...] = (1.0, 1.0, 1.0)
    scale: float = 1.0

    def __post_init__(self) -> None:
        for k in ("sigma", "rho", "beta", "dt", "duration", "scale"):
            _positive(k, getattr(self, k))
        _positive("transient", self.transient, allow_zero=True)
        if self.dt > 0.05:
            raise ConfigError(f"curve parameter dt must be <= 0.05 for a stable RK4, got {self.dt}")
        steps = (self.duration + self.transient) / self.dt
        if steps > 5_000_000:
            raise ConfigError(f"lorenz: (duration + transient) / dt = {steps:.3g} steps, max 5e6")
        if len(self.start) != 3 or not np.all(np.isfinite(self.start)):
            raise ConfigError(f"curve parameter start must be 3 finite numbers, got {self.start}")


@dataclass(frozen=True)
class CircleParams:
    """Circle of ``radius`` in the xy plane around the origin (closed)."""

    radius: float = 20.0

    def __post_init__(self) -> None:
        _positive("radius", self.radius)


@dataclass(frozen=True)
class LineParams:
    """Straight line from the origin along ``direction``; ``length`` unset = as pieces need."""

    length: Optional[float] = None  # noqa: UP045
    direction: tuple[float, ...] = (0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        if self.length is not None:
            _positive("length", self.length)
        d = np.asarray(self.direction, dtype=np.float64)
        if d.shape != (3,) or not np.all(np.isfinite(d)) or np.linalg.norm(d) == 0:
            raise ConfigError(
                f"curve parameter direction must be 3 numbers, not all 0, got {self.direction}"
            )


@dataclass(frozen=True)
class SplineParams:
    """Interpolating cubic spline through user points (chord-length parameter)."""

    closed: bool = False


#: Named curve families and their parameter dataclasses.
CURVES: dict[str, type] = {
    "helix": HelixParams,
    "reference": ReferenceParams,
    "lorenz": LorenzParams,
    "circle": CircleParams,
    "line": LineParams,
    "spline": SplineParams,
}


class CurveSpec:
    """A named curve family with parameters, built into a :class:`Curve` on demand.

    Helix (without ``turns``) and line (without ``length``) have a *free length*: the
    assembler builds them as long as the pieces need.

    Parameters
    ----------
    name
        One of :data:`CURVES`.
    settings
        ``["key=value", ...]`` strings (as from ``--set``) or a dict of parameter values;
        unknown keys raise :class:`ConfigError` listing the valid ones.
    points
        (K, 3) control points, required for (and only for) ``"spline"``.
    """

    def __init__(
        self,
        name: str,
        settings: Sequence[str] | dict[str, Any] = (),
        points: Any = None,
    ):
        if name not in CURVES:
            raise ConfigError(f"unknown curve {name!r}; valid: {', '.join(CURVES)}")
        self.name = name
        self.params = apply_overrides(CURVES[name](), settings, f"{name} curve")
        self.points = None
        if name == "spline":
            if points is None:
                raise InputError("the spline curve needs points (a CSV of x,y,z rows)")
            self.points = _points_array(points, "spline points")
        elif points is not None:
            raise InputError(f"points are only used by the spline curve, not {name!r}")

    @property
    def free_length(self) -> bool:
        """True if the curve's extent is set by the assembly (helix w/o turns, line w/o length)."""
        p = self.params
        return (self.name == "helix" and p.turns is None) or (
            self.name == "line" and p.length is None
        )

    def build(self, length: float | None = None, n_samples: int = DEFAULT_SAMPLES) -> Curve:
        """Sample the curve; ``length`` (arc length) is required iff :attr:`free_length`."""
        if self.free_length:
            if length is None or not np.isfinite(length) or length <= 0:
                raise InputError(f"the {self.name} curve needs a positive length, got {length}")
        builder = _BUILDERS[self.name]
        return builder(self, length, n_samples)

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description (name and parameters)."""
        d = {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(self.params).items()
        }
        return {"name": self.name, **d}


def _helix(spec: CurveSpec, length: float | None, n: int) -> Curve:
    p: HelixParams = spec.params
    rise = p.pitch / (2 * math.pi)
    per_rad = math.hypot(p.radius, rise)
    phi_end = 2 * math.pi * p.turns if p.turns is not None else length / per_rad

    def f(t: np.ndarray) -> np.ndarray:
        return np.stack([p.radius * np.cos(t), p.radius * np.sin(t), rise * t], axis=-1)

    return Curve.from_function(f, (0.0, phi_end), n_samples=n, name="helix", params=spec.describe())


def _reference(spec: CurveSpec, length: float | None, n: int) -> Curve:
    p: ReferenceParams = spec.params

    def f(t: np.ndarray) -> np.ndarray:
        r = 2 + np.cos(1.5 * t)
        return p.scale * np.stack([r * np.cos(t), r * np.sin(t), np.sin(1.5 * t)], axis=-1)

    closed = p.t_end is None
    t_end = 4 * math.pi if closed else p.t_end
    return Curve.from_function(
        f, (0.0, t_end), closed=closed, n_samples=n, name="reference", params=spec.describe()
    )


def lorenz_trajectory(params: LorenzParams | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the Lorenz system with fixed-step RK4.

    Returns
    -------
    t : (n,) times after the transient (starting at 0).
    xyz : (n, 3) states (unscaled).
    """
    p = params or LorenzParams()
    s, r, b, h = p.sigma, p.rho, p.beta, p.dt
    n_skip = int(round(p.transient / h))
    n = int(round(p.duration / h)) + 1
    out = np.empty((n_skip + n, 3))
    x, y, z = (float(v) for v in p.start)
    for i in range(n_skip + n):
        out[i] = (x, y, z)
        k1 = (s * (y - x), x * (r - z) - y, x * y - b * z)
        x2, y2, z2 = x + 0.5 * h * k1[0], y + 0.5 * h * k1[1], z + 0.5 * h * k1[2]
        k2 = (s * (y2 - x2), x2 * (r - z2) - y2, x2 * y2 - b * z2)
        x3, y3, z3 = x + 0.5 * h * k2[0], y + 0.5 * h * k2[1], z + 0.5 * h * k2[2]
        k3 = (s * (y3 - x3), x3 * (r - z3) - y3, x3 * y3 - b * z3)
        x4, y4, z4 = x + h * k3[0], y + h * k3[1], z + h * k3[2]
        k4 = (s * (y4 - x4), x4 * (r - z4) - y4, x4 * y4 - b * z4)
        x += h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        y += h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        z += h / 6 * (k1[2] + 2 * k2[2] + 2 * k3[2] + k4[2])
        if not abs(x) + abs(y) + abs(z) < 1e12:
            raise ConfigError(f"lorenz integration diverged at step {i}; reduce dt ({h})")
    return np.arange(n) * h, out[n_skip:]


def _lorenz(spec: CurveSpec, length: float | None, n: int) -> Curve:
    from scipy.interpolate import CubicSpline

    p: LorenzParams = spec.params
    t, xyz = lorenz_trajectory(p)
    spline = CubicSpline(t, xyz * p.scale, axis=0)
    return Curve.from_function(
        spline, (0.0, t[-1]), n_samples=n, name="lorenz", params=spec.describe()
    )


def _circle(spec: CurveSpec, length: float | None, n: int) -> Curve:
    rad = spec.params.radius

    def f(t: np.ndarray) -> np.ndarray:
        return np.stack([rad * np.cos(t), rad * np.sin(t), np.zeros_like(t)], axis=-1)

    return Curve.from_function(
        f, (0.0, 2 * math.pi), closed=True, n_samples=n, name="circle", params=spec.describe()
    )


def _line(spec: CurveSpec, length: float | None, n: int) -> Curve:
    p: LineParams = spec.params
    d = np.asarray(p.direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    total = p.length if p.length is not None else length
    pts = np.linspace(0.0, total, n)[:, None] * d
    return Curve(pts, False, "line", spec.describe())


def _spline(spec: CurveSpec, length: float | None, n: int) -> Curve:
    from scipy.interpolate import CubicSpline

    pts = spec.points
    closed = spec.params.closed
    if closed:
        pts = np.vstack([pts, pts[:1]])
    chord = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    if np.any(chord <= 0):
        r = int(np.flatnonzero(chord <= 0)[0])
        raise InputError(f"spline points {r} and {r + 1} coincide; consecutive points must differ")
    need = 4 if closed else 2
    if len(pts) < need:
        raise InputError(
            f"a {'closed' if closed else 'open'} spline needs at least {need - int(closed)} points, got {len(spec.points)}"
        )
    u = np.r_[0.0, np.cumsum(chord)]
    spline = CubicSpline(u, pts, axis=0, bc_type="periodic" if closed else "not-a-knot")
    return Curve.from_function(
        spline, (0.0, u[-1]), closed=closed, n_samples=n, name="spline", params=spec.describe()
    )


_BUILDERS: dict[str, Callable[[CurveSpec, float | None, int], Curve]] = {
    "helix": _helix,
    "reference": _reference,
    "lorenz": _lorenz,
    "circle": _circle,
    "line": _line,
    "spline": _spline,
}


def read_points_csv(path: str | Path) -> np.ndarray:
    """Read control points from a CSV of ``x,y,z`` rows (an optional header line is skipped).

    Blank lines and lines starting with ``#`` are ignored. Raises :class:`FormatError`
    naming the file and line for malformed rows.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(p, f"cannot read points file: {exc}") from None
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = [v.strip() for v in s.replace(";", ",").split(",")]
        try:
            vals = [float(v) for v in parts]
        except ValueError:
            if not rows and any(c.isalpha() for c in s):
                continue  # header line
            raise FormatError(p, f"expected numbers x,y,z, got {s!r}", f"line {lineno}") from None
        if len(vals) != 3:
            raise FormatError(p, f"expected 3 values x,y,z, got {len(vals)}", f"line {lineno}")
        if not all(math.isfinite(v) for v in vals):
            raise FormatError(p, f"non-finite coordinate in {s!r}", f"line {lineno}")
        rows.append(vals)
    if not rows:
        raise FormatError(p, "no points found")
    return np.asarray(rows, dtype=np.float64)


__all__ = [
    "Curve",
    "CurveSpec",
    "CURVES",
    "DEFAULT_SAMPLES",
    "HelixParams",
    "ReferenceParams",
    "LorenzParams",
    "CircleParams",
    "LineParams",
    "SplineParams",
    "lorenz_trajectory",
    "read_points_csv",
]
