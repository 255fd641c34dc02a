"""Uniaxial material laws for struts and threads (units: MPa, strain dimensionless).

Two families, both vectorised over members (every parameter may be a scalar or (M,)):

* :class:`SilkLaw`: the spider-silk law whose shape follows Cranford, Tarakanova, Pugno &
  Buehler, "Nonlinear material behaviour of spider silk yields robust webs", Nature 482,
  72-76 (2012), Fig. 1: a stiff initial regime, yielding into a compliant plateau
  (entropic unfolding of the amorphous domains), then strong stiffening until failure.
  Threads are tension-only. Modelled as nonlinear elastic (loading), piecewise:
  linear to the yield strain, linear with a small slope on the plateau, then a quadratic
  stiffening branch (continuous tangent) reaching the failure stress at the failure strain.
* :class:`ElasticPlastic`: linear elastic, linear isotropic hardening plasticity with a
  failure strain, for printed polymers (tension and compression alike).

Preset values are representative literature figures, not fits to our own tests:
dragline (radial / frame) and viscid (spiral) silk of *Araneus diadematus* from Gosline,
Guerette, Ortlepp & Savage, J. Exp. Biol. 202, 3295-3303 (1999), Table 1 (initial modulus
10 GPa vs 3 MPa, strength 1.1 GPa vs 0.5 GPa, extensibility 0.27 vs 2.7), with the
yield and stiffening-onset strains placed after Cranford et al. (2012). The polymer presets
are typical datasheet values for FDM PLA and TPU (Shore 95A) and a standard SLA
photopolymer resin.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np

from ..errors import InputError
from ..web import THREAD_CODE, WebGraph


def _arr(x: float | np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class SilkLaw:
    """Tension-only spider-silk law (Cranford et al. 2012 shape), nominal stress [MPa].

    Parameters
    ----------
    E1
        Initial modulus [MPa] up to ``eps_y``.
    eps_y
        Yield strain.
    E2
        Plateau modulus [MPa] between ``eps_y`` and ``eps_s`` (E2 < E1).
    eps_s
        Onset of stiffening.
    sigma_f, eps_f
        Failure stress [MPa] and failure strain; the stiffening branch is the quadratic
        with tangent E2 at ``eps_s`` through (eps_f, sigma_f).

    The yield is rounded over ``eps_y +- eps_y / 20`` (see :meth:`_pieces`), so the
    tangent is continuous there.
    density
        [kg/m^3].
    """

    E1: float | np.ndarray
    eps_y: float | np.ndarray
    E2: float | np.ndarray
    eps_s: float | np.ndarray
    sigma_f: float | np.ndarray
    eps_f: float | np.ndarray
    density: float = 1300.0
    name: str = "silk"
    tension_only: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        E1, ey, E2, es, sf, ef = (
            _arr(getattr(self, k)) for k in ("E1", "eps_y", "E2", "eps_s", "sigma_f", "eps_f")
        )
        ok = (E1 > 0) & (ey > 0) & (E2 >= 0) & (E2 < E1) & (es > ey) & (ef > es)
        if not np.all(ok & np.isfinite(E1 + ey + E2 + es + sf + ef)):
            raise InputError(
                f"silk law {self.name!r}: need 0 < eps_y < eps_s < eps_f, E1 > 0 and 0 <= E2 < E1"
            )
        if not np.all(self._a() >= 0):
            raise InputError(
                f"silk law {self.name!r}: failure stress too low for a stiffening branch"
            )

    def _ss(self) -> np.ndarray:
        return _arr(self.E1) * _arr(self.eps_y) + _arr(self.E2) * (
            _arr(self.eps_s) - _arr(self.eps_y)
        )

    def _a(self) -> np.ndarray:
        w = _arr(self.eps_f) - _arr(self.eps_s)
        return (_arr(self.sigma_f) - self._ss() - _arr(self.E2) * w) / w**2

    @cached_property
    def _pieces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segment starts (..., 5), cubic coefficients (..., 5, 4) and energy at the starts.

        Segments: the initial modulus (split in two at a negligible strain ``d0``, one
        segment kept for the layout); a quadratic blend of width ``2 w`` (``w = eps_y /
        20``) centred on the yield strain (the rounded yield of Cranford et al.'s Fig. 1)
        that keeps the tangent continuous there, which Newton's method needs; the plateau;
        the stiffening quadratic. Outside the blend the law is exactly piecewise linear /
        quadratic, and the stress is monotone. Where a slack thread comes taut the
        tangent jumps from 0 to ``E1``; a smooth toe there would make the force of a
        barely taut thread quadratic in its strain and Newton's method converge only
        linearly on it.
        """
        E1, ey, E2, es = (_arr(self.E1), _arr(self.eps_y), _arr(self.E2), _arr(self.eps_s))
        a = self._a()
        E1, ey, E2, es, a = np.broadcast_arrays(E1, ey, E2, es, a)
        d0 = 1e-12 * ey  # no toe: a kink at zero lets Newton settle slack threads in one step
        w = np.minimum(ey / 20, (es - ey) / 4)
        z = np.zeros_like(E1)
        starts = np.stack([z, d0, ey - w, ey + w, es], axis=-1)
        coef = np.stack(
            [
                np.stack([z, E1, z, z], -1),
                np.stack([E1 * d0, E1, z, z], -1),
                np.stack([E1 * (ey - w), E1, (E2 - E1) / (4 * w), z], -1),
                np.stack([E1 * ey + E2 * w, E2, z, z], -1),
                np.stack([self._ss() + z, E2, a, z], -1),
            ],
            axis=-2,
        )
        h = np.diff(starts, axis=-1)
        seg_w = (
            coef[..., :4, 0] * h
            + coef[..., :4, 1] * h**2 / 2
            + coef[..., :4, 2] * h**3 / 3
            + coef[..., :4, 3] * h**4 / 4
        )
        energy = np.concatenate([z[..., None], np.cumsum(seg_w, axis=-1)], axis=-1)
        return starts, coef, energy

    def _locate(self, eps: np.ndarray):
        starts, coef, energy = self._pieces
        e = np.maximum(np.asarray(eps, np.float64), 0.0)
        shape = np.broadcast_shapes(e.shape, starts.shape[:-1])
        e = np.broadcast_to(e, shape)
        starts = np.broadcast_to(starts, (*shape, 5))
        k = (e[..., None] >= starts[..., 1:]).sum(axis=-1)
        pick = k[..., None]
        x = e - np.take_along_axis(starts, pick, -1)[..., 0]
        c = np.take_along_axis(np.broadcast_to(coef, (*shape, 5, 4)), pick[..., None], -2)
        w0 = np.take_along_axis(np.broadcast_to(energy, (*shape, 5)), pick, -1)[..., 0]
        return x, c[..., 0, :], w0

    def stress(self, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nominal stress [MPa] and tangent modulus [MPa] at strains ``eps`` (M,)."""
        x, c, _ = self._locate(eps)
        s = c[..., 0] + c[..., 1] * x + c[..., 2] * x**2 + c[..., 3] * x**3
        t = c[..., 1] + 2 * c[..., 2] * x + 3 * c[..., 3] * x**2
        neg = np.asarray(eps) <= 0
        return np.where(neg, 0.0, s), np.where(neg, 0.0, t)

    def energy_density(self, eps: np.ndarray) -> np.ndarray:
        """Strain energy per unit reference volume [MPa = mJ/mm^3] at strains ``eps``."""
        x, c, w0 = self._locate(eps)
        return w0 + c[..., 0] * x + c[..., 1] * x**2 / 2 + c[..., 2] * x**3 / 3 + c[..., 3] * x**4 / 4

    def elastic_energy(self, eps: np.ndarray, stress: np.ndarray) -> np.ndarray:  # noqa: ARG002
        """Recoverable energy density [MPa] at strain ``eps`` (nonlinear elastic: all of it)."""
        return self.energy_density(eps)

    def strain_at(self, stress: np.ndarray) -> np.ndarray:
        """Inverse of the loading curve: strain at nominal stress ``stress`` [MPa] (M,).

        Stresses at or below zero give 0; stresses at or above ``sigma_f`` raise
        :class:`InputError` (the thread would already be broken). Bisection to machine
        precision (the law is monotone).
        """
        s = np.asarray(stress, np.float64)
        if np.any(s >= _arr(self.sigma_f)):
            raise InputError(
                f"{self.name}: a stress of {float(np.max(s)):.4g} MPa reaches the failure "
                f"stress ({float(np.min(self.sigma_f)):.4g} MPa)"
            )
        lo = np.zeros(np.broadcast_shapes(s.shape, np.shape(self.eps_f)))
        hi = lo + _arr(self.eps_f)
        for _ in range(64):
            mid = 0.5 * (lo + hi)
            below = self.stress(mid)[0] < s
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return np.where(s <= 0, 0.0, 0.5 * (lo + hi))

    @property
    def E(self) -> np.ndarray:
        """Initial modulus [MPa] (for linear analyses)."""
        return _arr(self.E1)

    def take(self, idx: np.ndarray) -> SilkLaw:
        """The law restricted to members ``idx`` (per-member parameters are indexed)."""
        kw = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        for k in ("E1", "eps_y", "E2", "eps_s", "sigma_f", "eps_f"):
            v = _arr(kw[k])
            kw[k] = v[idx] if v.ndim else v
        return SilkLaw(**kw)


@dataclass(frozen=True)
class ElasticPlastic:
    """Elastic, linear-hardening plastic uniaxial law with a failure strain.

    Parameters
    ----------
    E
        Young's modulus [MPa].
    sigma_y
        Initial yield stress [MPa].
    H
        Plastic hardening modulus [MPa] (0 = perfectly plastic).
    eps_f
        Total strain magnitude at failure.
    density
        [kg/m^3].
    nu
        Poisson's ratio (shear modulus of frame members).
    tension_only
        Threads rather than struts: no stress (and no plastic flow) while the elastic
        strain ``eps - eps_p`` is negative (slack).
    """

    E: float | np.ndarray
    sigma_y: float | np.ndarray
    H: float | np.ndarray
    eps_f: float | np.ndarray
    density: float = 1200.0
    nu: float = 0.35
    name: str = "polymer"
    tension_only: bool = False

    def __post_init__(self) -> None:
        E, sy, H, ef = (_arr(self.E), _arr(self.sigma_y), _arr(self.H), _arr(self.eps_f))
        if not np.all((E > 0) & (sy > 0) & (H >= 0) & (ef > 0) & np.isfinite(E + sy + H + ef)):
            raise InputError(f"material {self.name!r}: need E > 0, sigma_y > 0, H >= 0, eps_f > 0")

    def update(
        self, eps: np.ndarray, eps_p: np.ndarray, alpha: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return mapping from committed state (eps_p, alpha) to total strain ``eps``.

        Returns stress [MPa], consistent tangent [MPa], new plastic strain, new alpha.
        """
        stress, tangent, eps_p1, alpha1, _ = self._return_map(eps, eps_p, alpha)
        return stress, tangent, eps_p1, alpha1

    def _return_map(self, eps, eps_p, alpha):
        E, sy, H = _arr(self.E), _arr(self.sigma_y), _arr(self.H)
        trial = E * (eps - eps_p)
        f = np.abs(trial) - (sy + H * alpha)
        plastic = f > 0
        if self.tension_only:
            plastic &= trial > 0
        dg = np.where(plastic, f / (E + H), 0.0)
        sgn = np.sign(trial)
        stress = trial - sgn * E * dg
        tangent = np.broadcast_to(np.where(plastic, E * H / (E + H), E), np.shape(eps))
        if self.tension_only:
            slack = trial <= 0
            stress = np.where(slack, 0.0, stress)
            tangent = np.where(slack, 0.0, tangent)
        return stress, tangent, eps_p + sgn * dg, alpha + dg, dg

    def increment(
        self, eps: np.ndarray, eps_p: np.ndarray, alpha: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return mapping plus the incremental potential of the step.

        Returns stress, tangent, new plastic strain, new alpha, the incremental energy
        density ``psi`` [MPa] (elastic energy at the new state plus the plastic work of
        the step; its derivative with respect to ``eps`` is the stress, so the
        equilibrium of a load step minimises its sum over members) and the plastic work
        density of the step [MPa].
        """
        E, sy, H = _arr(self.E), _arr(self.sigma_y), _arr(self.H)
        stress, tangent, ep1, al1, dg = self._return_map(eps, eps_p, alpha)
        plastic_work = (sy + H * alpha) * dg + 0.5 * H * dg**2
        return stress, tangent, ep1, al1, 0.5 * stress**2 / E + plastic_work, plastic_work

    def elastic_energy(self, eps: np.ndarray, stress: np.ndarray) -> np.ndarray:  # noqa: ARG002
        """Recoverable (elastic) energy density [MPa] at ``stress``."""
        return 0.5 * stress**2 / _arr(self.E)

    def strain_at(self, stress: np.ndarray) -> np.ndarray:
        """Elastic strain at stress ``stress`` [MPa] (a prestress must stay below yield)."""
        s = np.asarray(stress, np.float64)
        if np.any(np.abs(s) >= _arr(self.sigma_y)):
            raise InputError(
                f"{self.name}: a prestress of {float(np.max(np.abs(s))):.4g} MPa reaches the "
                f"yield stress ({float(np.min(self.sigma_y)):.4g} MPa)"
            )
        return s / _arr(self.E)

    @property
    def sigma_f(self) -> np.ndarray:
        """Stress at the failure strain on monotonic loading [MPa]."""
        E, sy, H, ef = (_arr(self.E), _arr(self.sigma_y), _arr(self.H), _arr(self.eps_f))
        return np.minimum(E * ef, sy + H * (ef - sy / E) * E / (E + H))

    def take(self, idx: np.ndarray) -> ElasticPlastic:
        """The law restricted to members ``idx`` (per-member parameters are indexed)."""
        kw = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        for k in ("E", "sigma_y", "H", "eps_f"):
            v = _arr(kw[k])
            kw[k] = v[idx] if v.ndim else v
        return ElasticPlastic(**kw)


Material = SilkLaw | ElasticPlastic

DRAGLINE = SilkLaw(
    E1=10_000.0, eps_y=0.02, E2=1_500.0, eps_s=0.15, sigma_f=1_100.0, eps_f=0.27, name="dragline"
)
VISCID = SilkLaw(E1=3.0, eps_y=0.10, E2=1.0, eps_s=1.5, sigma_f=500.0, eps_f=2.7, name="viscid")
PLA = ElasticPlastic(
    E=3_500.0, sigma_y=50.0, H=200.0, eps_f=0.05, density=1240.0, nu=0.36, name="pla"
)
TPU = ElasticPlastic(E=26.0, sigma_y=8.0, H=6.0, eps_f=4.0, density=1210.0, nu=0.48, name="tpu")
RESIN = ElasticPlastic(
    E=2_200.0, sigma_y=45.0, H=150.0, eps_f=0.07, density=1180.0, nu=0.35, name="resin"
)

MATERIALS = ("silk", "dragline", "viscid", "pla", "tpu", "resin")
#: Thread types that get the viscid (capture-spiral) law under ``material="silk"``.
VISCID_THREADS = ("spiral", "gumfoot")


def silk_for(web: WebGraph) -> SilkLaw:
    """Per-member silk law: viscid for spiral / gumfoot threads, dragline for all others."""
    viscid = np.zeros(web.n_edges, bool)
    if "thread" in web.edge_attrs:
        codes = web.edge_attrs["thread"].astype(int)
        viscid = np.isin(codes, [THREAD_CODE[t] for t in VISCID_THREADS])
    kw = {}
    for k in ("E1", "eps_y", "E2", "eps_s", "sigma_f", "eps_f"):
        kw[k] = np.where(viscid, getattr(VISCID, k), getattr(DRAGLINE, k))
    return SilkLaw(**kw, density=DRAGLINE.density, name="silk")


def get_material(name: str, web: WebGraph | None = None) -> Material:
    """Material preset by name: silk (per-thread dragline/viscid), dragline, viscid, pla, tpu, resin."""
    key = str(name).lower()
    if key == "silk":
        if web is None:
            return DRAGLINE
        return silk_for(web)
    presets = {"dragline": DRAGLINE, "viscid": VISCID, "pla": PLA, "tpu": TPU, "resin": RESIN}
    if key not in presets:
        raise InputError(f"unknown material {name!r}; valid: {', '.join(MATERIALS)}")
    return presets[key]
