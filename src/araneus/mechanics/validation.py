"""Validation cases of the silk mechanics: closed forms and a published comparison.

* :func:`string_midspan_force`: a pretensioned elastic string under a transverse point
  load at mid-span, large deflection (closed form).
* :func:`radial_star`: N pretensioned threads from a hub to a rim; the initial out-of-plane
  stiffness of the hub is ``N T / R``.
* :func:`ideal_orb` and :func:`damage_localisation`: the comparison of Cranford,
  Tarakanova, Pugno & Buehler, "Nonlinear material behaviour of spider silk yields
  robust webs", Nature 482, 72-76 (2012): a load on one radial thread of an orb web
  breaks that thread and little else with the natural (yield, then stiffen) dragline law,
  while linear-elastic and elastic-perfectly-plastic laws of the same strength and failure
  strain spread the damage over more threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..web import THREAD_CODE, WebGraph
from .materials import DRAGLINE, VISCID, ElasticPlastic, SilkLaw
from .nonlinear import NonlinearResult, displacement_control
from .prestress import compute_prestress


def string_midspan_force(
    delta: np.ndarray, half_length: float, t0: float, ea: float
) -> np.ndarray:
    """Mid-span force [N] of a pretensioned linear string pulled sideways by ``delta`` [mm].

    Two halves of length ``L`` carry ``t0`` at the start; each has the rest length
    ``L0 = L / (1 + t0 / EA)`` (araneus's prestress definition), so at the deflected
    length ``l = sqrt(L^2 + delta^2)`` its tension is ``T = EA (l / L0 - 1)`` and the
    force is ``F = 2 T delta / l``.
    """
    delta = np.asarray(delta, np.float64)
    rest = half_length / (1.0 + t0 / ea)
    length = np.hypot(half_length, delta)
    return 2.0 * ea * (length / rest - 1.0) * delta / length


def linear_thread(E: float, eps_f: float = 10.0) -> ElasticPlastic:
    """A linear-elastic, tension-only thread law (no yield within ``eps_f``)."""
    return ElasticPlastic(
        E=E, sigma_y=E * eps_f * 10, H=0.0, eps_f=eps_f, tension_only=True, name="linear"
    )


def radial_star(n: int = 8, radius: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Positions (n + 1, 3) and threads (n, 2) of a flat star: hub 0, rim nodes 1..n."""
    ang = 2 * np.pi * np.arange(n) / n
    pos = np.vstack([[0.0, 0.0, 0.0], np.c_[radius * np.cos(ang), radius * np.sin(ang), 0 * ang]])
    return pos, np.c_[np.zeros(n, np.int64), np.arange(1, n + 1)]


def ideal_orb(
    n_radials: int = 16,
    n_rings: int = 10,
    radius: float = 50.0,
    hub: float = 5.0,
    spiral_tension: float = 0.1,
) -> WebGraph:
    """An idealised, exactly pretensioned orb web (flat, in the x-y plane).

    ``n_radials`` radial threads from a hub node to a fixed frame ring (the anchors,
    ``node_attrs["anchor"]``), crossed by ``n_rings`` spiral rings evenly spaced from
    ``hub`` to ``radius``. ``edge_attrs["force_density"]`` holds force densities in exact
    equilibrium with the anchors held: spirals at tension ``spiral_tension`` and radials
    at 1 at the hub, growing outward by what each ring's spiral pulls inward
    (``2 T_s sin(pi / n)`` per ring).
    """
    if n_radials < 3 or n_rings < 1 or not (0 < hub < radius):
        raise InputError("ideal_orb needs n_radials >= 3, n_rings >= 1 and 0 < hub < radius")
    ang = 2 * np.pi * np.arange(n_radials) / n_radials
    radii = np.linspace(hub, radius, n_rings + 1)  # the last ring is the frame
    ring_pos = radii[:, None, None] * np.stack([np.cos(ang), np.sin(ang), 0 * ang], -1)
    pos = np.vstack([[[0.0, 0.0, 0.0]], ring_pos.reshape(-1, 3)])
    node = 1 + np.arange((n_rings + 1) * n_radials).reshape(n_rings + 1, n_radials)
    radial = [np.c_[np.zeros(n_radials, np.int64), node[0]]]
    radial += [np.c_[node[k], node[k + 1]] for k in range(n_rings)]
    spiral = [np.c_[node[k], np.roll(node[k], -1)] for k in range(n_rings)]
    t_r = 1.0 + 2 * spiral_tension * np.sin(np.pi / n_radials) * np.arange(n_rings + 1)
    edges = np.vstack(radial + spiral)
    tension = np.r_[np.repeat(t_r, n_radials), np.full(n_rings * n_radials, spiral_tension)]
    thread = np.r_[
        np.full((n_rings + 1) * n_radials, THREAD_CODE["radial"]),
        np.full(n_rings * n_radials, THREAD_CODE["spiral"]),
    ].astype(np.int8)
    anchor = np.zeros(len(pos), bool)
    anchor[node[-1]] = True
    length = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    return WebGraph(
        pos,
        edges,
        edge_attrs={"thread": thread, "force_density": tension / length},
        node_attrs={"anchor": anchor},
    )


@dataclass
class LocalisationResult:
    """One law of the damage-localisation comparison."""

    law: str
    peak_force: float  # [N]
    broken: int  # threads broken at final failure
    broken_radial: int
    broken_spiral: int
    curve: NonlinearResult


def comparison_laws(spiral: np.ndarray) -> dict[str, SilkLaw | ElasticPlastic]:
    """The three laws of the comparison, per thread (``spiral``: viscid capture threads,
    the others dragline), each failing at that silk's failure stress and strain: the
    natural silk law; linear elastic; elastic-perfectly plastic (yield at the failure
    stress at half the failure strain, then flow to the failure strain)."""
    spiral = np.asarray(spiral, bool)

    def pick(key: str) -> np.ndarray:
        return np.where(spiral, float(getattr(VISCID, key)), float(getattr(DRAGLINE, key)))

    sf, ef = pick("sigma_f"), pick("eps_f")
    natural = SilkLaw(
        **{k: pick(k) for k in ("E1", "eps_y", "E2", "eps_s", "sigma_f", "eps_f")},
        density=DRAGLINE.density,
        name="natural",
    )
    kw = {"H": 0.0, "eps_f": ef, "tension_only": True, "density": DRAGLINE.density}
    return {
        "natural": natural,
        "linear": ElasticPlastic(E=sf / ef, sigma_y=10 * sf, name="linear", **kw),
        "plastic": ElasticPlastic(E=2 * sf / ef, sigma_y=sf, name="plastic", **kw),
    }


def damage_localisation(
    web: WebGraph | None = None,
    ring: int | None = None,
    diameter: float = 0.004,
    pretension: float = 0.02,
) -> list[LocalisationResult]:
    """Pull one node of a radial thread out of plane to final failure under each law.

    Radial and spiral threads carry the law under test (with their own strength and
    failure strain); every web starts from the same pretension (median radial tension
    ``pretension`` of the dragline breaking force). Returns one :class:`LocalisationResult` per law of
    :func:`comparison_laws`.
    """
    web = ideal_orb() if web is None else web
    thread = web.edge_attrs["thread"]
    spiral = thread == THREAD_CODE["spiral"]
    anchors = np.flatnonzero(web.node_attrs["anchor"])
    radial_nodes = np.unique(web.edges[~spiral].ravel())
    centre = web.pos[radial_nodes].mean(axis=0)
    dist = np.linalg.norm(web.pos - centre, axis=1)
    cand = np.setdiff1d(radial_nodes, anchors)
    ring = 0.5 if ring is None else ring
    node = int(cand[np.argmin(np.abs(dist[cand] - ring * dist[anchors].mean()))])
    normal = np.linalg.svd(web.pos - web.pos.mean(axis=0), full_matrices=False)[2][-1]
    area = np.pi * diameter**2 / 4
    out = []
    for name, members in comparison_laws(spiral).items():
        level = pretension * float(DRAGLINE.sigma_f) * area
        ps = compute_prestress(
            web.pos,
            web.edges,
            anchors,
            members,
            diameter,
            level=level,
            q0=web.edge_attrs["force_density"],
            reference=~spiral,
        )
        span = float(np.ptp(web.pos, axis=0).max())
        res = displacement_control(
            ps.pos, web.edges, members, diameter, anchors, [node], normal, 2.0 * span,
            steps=200, rest_length=ps.rest_length, partial=True,
        )  # fmt: skip
        broken = res.broken_step >= 0
        out.append(
            LocalisationResult(
                name,
                float(res.force.max()),
                int(broken.sum()),
                int((broken & ~spiral).sum()),
                int((broken & spiral).sum()),
                res,
            )
        )
    return out


#: Load cases of :func:`localisation_study`: (radial threads, spiral rings, load point as a
#: fraction of the way from the hub to the frame).
STUDY_CASES = ((8, 6, 0.3), (8, 6, 0.5), (8, 6, 0.7), (10, 6, 0.5))


def localisation_study(cases=STUDY_CASES) -> list[dict[str, float | int | str]]:
    """:func:`damage_localisation` over several idealised orb webs and load points.

    Returns one row per (case, law): ``radials``, ``rings``, ``load_at``, ``law``,
    ``peak_force_mN``, ``broken``, ``broken_radial``, ``broken_spiral``.
    """
    rows = []
    for n_radials, n_rings, at in cases:
        web = ideal_orb(n_radials=n_radials, n_rings=n_rings)
        for r in damage_localisation(web, ring=at):
            rows.append(
                {
                    "radials": n_radials,
                    "rings": n_rings,
                    "load_at": at,
                    "law": r.law,
                    "peak_force_mN": 1e3 * r.peak_force,
                    "broken": r.broken,
                    "broken_radial": r.broken_radial,
                    "broken_spiral": r.broken_spiral,
                }
            )
    return rows
