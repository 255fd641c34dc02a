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

    def stress(self, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nominal stress [MPa] and tangent modulus [MPa] at strains ``eps`` (M,)."""
        E1, ey, E2, es = (_arr(self.E1), _arr(self.eps_y), _arr(self.E2), _arr(self.eps_s))
        sy, ss, a = E1 * ey, self._ss(), self._a()
        x = eps - es
        s = np.where(
            eps <= ey, E1 * eps, np.where(eps <= es, sy + E2 * (eps - ey), ss + E2 * x + a * x**2)
        )
        t = np.where(eps <= ey, E1, np.where(eps <= es, E2, E2 + 2 * a * x))
        neg = eps <= 0
        return np.where(neg, 0.0, s), np.where(neg, 0.0, np.broadcast_to(t, np.shape(eps)))

    def energy_density(self, eps: np.ndarray) -> np.ndarray:
        """Strain energy per unit reference volume [MPa = mJ/mm^3] at strains ``eps``."""
        E1, ey, E2, es = (_arr(self.E1), _arr(self.eps_y), _arr(self.E2), _arr(self.eps_s))
        sy, ss, a = E1 * ey, self._ss(), self._a()
        e = np.maximum(eps, 0.0)
        w1 = 0.5 * E1 * e**2
        wy = 0.5 * E1 * ey**2
        w2 = wy + sy * (e - ey) + 0.5 * E2 * (e - ey) ** 2
        ws = wy + sy * (es - ey) + 0.5 * E2 * (es - ey) ** 2
        x = e - es
        w3 = ws + ss * x + 0.5 * E2 * x**2 + a * x**3 / 3
        return np.where(e <= ey, w1, np.where(e <= es, w2, w3))

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
        E, sy, H = _arr(self.E), _arr(self.sigma_y), _arr(self.H)
        trial = E * (eps - eps_p)
        f = np.abs(trial) - (sy + H * alpha)
        plastic = f > 0
        dg = np.where(plastic, f / (E + H), 0.0)
        sgn = np.sign(trial)
        stress = trial - sgn * E * dg
        tangent = np.where(plastic, E * H / (E + H), E)
        return stress, np.broadcast_to(tangent, np.shape(eps)), eps_p + sgn * dg, alpha + dg


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
