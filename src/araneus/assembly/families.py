"""Named curve families: helix, the reference's closed curve, Lorenz, circle, line, spline.

Each family has a frozen parameter dataclass (set from ``--set key=value`` strings through
:func:`araneus._util.apply_overrides`, so unknown keys raise :class:`ConfigError` listing the
valid ones) and a builder returning a :class:`~araneus.assembly.curves.Curve`.
:class:`CurveSpec` ties a family name to its parameters.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .._util import apply_overrides
from ..errors import ConfigError, FormatError, InputError
from .curves import DEFAULT_SAMPLES, Curve, _points_array


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
    """Lorenz attractor trajectory, fixed-step RK4, times ``scale``.

    The first ``transient`` time units (the slow spiral out from ``start``) are dropped so
    the curve lies on the attractor; ``duration`` time units of it are kept.
    """

    sigma: float = 10.0
    rho: float = 28.0
    beta: float = 8.0 / 3.0
    dt: float = 0.005
    duration: float = 10.0
    transient: float = 10.0
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


#: Largest magnitude of a curve parameter (lengths in mm, turns, time spans): a bound
#: far beyond any printable structure that keeps coordinates finite.
MAX_CURVE_PARAM = 1e6


def _check_curve_numbers(params: Any, name: str) -> None:
    """ConfigError naming a curve parameter that is not finite or beyond
    :data:`MAX_CURVE_PARAM` in magnitude."""
    items = params.items() if isinstance(params, dict) else vars(params).items()
    for key, value in items:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not np.isfinite(value) or abs(value) > MAX_CURVE_PARAM:
            raise ConfigError(
                f"{name} curve: {key}={value!r} is out of range (finite, |value| <= "
                f"{MAX_CURVE_PARAM:g})"
            )


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
        _check_curve_numbers(self.params, name)
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
    "CURVES",
    "CurveSpec",
    "HelixParams",
    "ReferenceParams",
    "LorenzParams",
    "CircleParams",
    "LineParams",
    "SplineParams",
    "lorenz_trajectory",
    "read_points_csv",
]
