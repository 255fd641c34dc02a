"""Virtual mechanical tests of webs: uniaxial tension/compression and a point load.

* ``tension-x|y|z`` / ``compression-x|y|z``: nodes in the bottom slab (a fraction
  ``frac`` of the extent along the axis) are clamped, the top slab is moved as a rigid
  grip along +axis (tension) or -axis (compression).
* ``point-x|y|z``: one node (``load_node``, default the node nearest the bounding-box
  centre) is pulled along the axis ("prey impact" proxy); supports are the anchor nodes
  when the web has ``node_attrs["anchor"]``, otherwise the nodes near the bounding-box
  faces perpendicular to the other two axes.

Silk webs are analysed as pretensioned (:mod:`.prestress`), tension-only,
large-displacement trusses with the silk law; printed polymers as large-displacement
trusses with elastic-plastic struts plus linear frame bending (fused joints), without
pretension. Parts of the web that carry no load (not connected to any support or grip,
or, for pretensioned webs, pendant loose ends) are left out and counted.
By default a test runs until final failure (no load path left between supports and
grip); ``strain`` sets where to stop instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .._util import atomic_output, write_text_atomic
from ..errors import InputError
from ..web import THREAD_CODE, WebGraph
from .chains import condense_chains
from .materials import ElasticPlastic, get_material
from .nonlinear import NonlinearResult, displacement_control
from .prestress import Prestress, compute_prestress
from .solve import axis_index, region_nodes

TEST_KINDS = ("tension", "compression", "point")
#: Default strut / thread diameter [mm] by material.
DEFAULT_STRUT = {"silk": 0.004, "dragline": 0.004, "viscid": 0.002}
DEFAULT_STRUT_PRINTED = 0.8
#: Materials pretensioned by ``pretension="auto"`` (webs of threads).
PRETENSIONED = ("silk", "dragline", "viscid")
#: Largest nominal strain of a test run until final failure (``strain=None``).
MAX_STRAIN = 3.0


@dataclass
class VirtualTestResult:
    """Outcome of a virtual test (units: mm, N, mJ, g, MPa).

    ``stiffness`` is the initial tangent stiffness along the loading direction [N/mm]
    (prestress included); ``peak_force`` the largest reaction [N]; ``energy_to_failure``
    the external work up to the end of the curve [mJ]; the ``specific_*`` properties
    divide by ``mass`` [g] (density x strut volume of every member of the web).
    ``member_stress`` (E,) is the nominal axial stress at the peak (NaN for members left
    out or already broken); ``broken`` (E,) marks failed members; ``prestress`` holds
    the self-stress state the test started from (None without pretension).
    """

    test: str
    material: str
    strut: float
    mass: float
    stiffness: float
    peak_force: float
    energy_to_failure: float
    curve: NonlinearResult
    member_stress: np.ndarray
    broken: np.ndarray
    n_unloaded_members: int
    prestress: Prestress | None = None
    failure_stress: float = float("nan")
    strain: float = float("nan")

    @property
    def specific_stiffness(self) -> float:
        """Stiffness per mass [N/mm/g]."""
        return self.stiffness / self.mass

    @property
    def specific_peak_force(self) -> float:
        """Peak force per mass [N/g]."""
        return self.peak_force / self.mass

    @property
    def specific_energy(self) -> float:
        """Energy to failure per mass [mJ/g = J/kg]."""
        return self.energy_to_failure / self.mass

    @property
    def end(self) -> str:
        """How the test ended: final failure, the final strain, or why it stopped."""
        if self.curve.failed:
            return "final failure"
        if self.curve.stopped:
            return "stopped: " + self.curve.stopped
        return f"final strain {self.strain:.3g} reached before final failure"

    def summary(self) -> dict[str, float | str | int | bool]:
        """Scalar results as a JSON-friendly dict."""
        out: dict[str, float | str | int | bool] = {
            "test": self.test,
            "material": self.material,
            "strut_mm": self.strut,
            "mass_g": self.mass,
            "stiffness_N_per_mm": self.stiffness,
            "initial_force_N": float(self.curve.force[0]),
            "peak_force_N": self.peak_force,
            "energy_to_failure_mJ": self.energy_to_failure,
            "specific_stiffness_N_per_mm_g": self.specific_stiffness,
            "specific_peak_force_N_per_g": self.specific_peak_force,
            "specific_energy_J_per_kg": self.specific_energy,
            "broken_members": int(self.broken.sum()),
            "unloaded_members": self.n_unloaded_members,
            "final_failure": bool(self.curve.failed),
            "points": len(self.curve.force),
            "stopped": self.curve.stopped,
            "end": self.end,
        }
        if self.prestress is not None:
            out.update(self.prestress.summary())
            out["prestress_energy_mJ"] = self.curve.prestress_energy
        return out

    def write_csv(self, path: str | os.PathLike) -> None:
        """Force-displacement curve and energies as CSV (header row, one row per point)."""
        c = self.curve
        table = np.column_stack(
            [c.displacement, c.force, c.external_work, c.stored_energy, c.dissipated_energy]
        )
        lines = ["displacement_mm,force_N,external_work_mJ,stored_energy_mJ,dissipated_energy_mJ"]
        lines += [",".join(f"{v:.10g}" for v in row) for row in table]
        write_text_atomic(path, "\n".join(lines) + "\n")

    def plot_curve(self, path: str | os.PathLike) -> None:
        """PNG of the force-displacement curve with the peak marked (and where it stopped)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        c = self.curve
        fig, ax = plt.subplots(figsize=(6, 4))
        try:
            ax.plot(c.displacement, c.force, "-", lw=1.5)
            k = int(np.argmax(c.force))
            ax.plot(c.displacement[k], c.force[k], "o", color="C3", label="peak")
            if c.stopped:
                ax.plot(c.displacement[-1], c.force[-1], "x", color="k", ms=9, label="stopped")
            ax.set_xlabel("displacement [mm]")
            ax.set_ylabel("force [N]")
            ax.set_title(
                f"{self.test}, {self.material}: peak {self.peak_force:.3g} N ({self.end})",
                fontsize=9,
            )
            ax.grid(alpha=0.3)
            ax.legend(frameon=False)
            with atomic_output(path) as tmp:
                fig.savefig(tmp, dpi=150, bbox_inches="tight", format="png")
        finally:
            plt.close(fig)

    def plot_stress(self, web: WebGraph, path: str | os.PathLike) -> None:
        """3-D view of ``web`` coloured by member stress at the peak [MPa], on a scale
        from 0 to the failure stress (members over it are drawn at the top colour)."""
        from ..report.plot import plot_web

        top = self.failure_stress if np.isfinite(self.failure_stress) else None
        values = np.nan_to_num(self.member_stress, nan=0.0)
        vrange = (0.0, top) if top else None
        plot_web(
            web,
            path,
            title=f"{self.test}: member stress at peak [MPa]",
            values=values,
            vrange=vrange,
            value_label=f"stress [MPa], clipped at failure {top:.4g} MPa" if top else "stress",
        )

    def save(self, web: WebGraph, out_dir: str | os.PathLike) -> list[Path]:
        """Write ``curve.csv``, ``curve.png``, ``stress.png`` and ``summary.json`` to a folder."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "curve.csv", out / "curve.png", out / "stress.png", out / "summary.json"]
        self.write_csv(paths[0])
        self.plot_curve(paths[1])
        self.plot_stress(web, paths[2])
        write_text_atomic(paths[3], json.dumps(self.summary(), indent=2) + "\n")
        return paths


def parse_test(test: str) -> tuple[str, int]:
    """Split ``"tension-z"`` into ("tension", 2); raise InputError naming valid tests."""
    kind, _, ax = str(test).lower().partition("-")
    if kind not in TEST_KINDS or ax not in ("x", "y", "z"):
        valid = ", ".join(f"{k}-{a}" for k in TEST_KINDS for a in "xyz")
        raise InputError(f"unknown test {test!r}; valid: {valid}")
    return kind, axis_index(ax)


def _setup(web, kind, ax, frac, load_node, supports):
    lo, hi = web.bbox()
    if kind == "point":
        if load_node is None:
            driven = region_nodes(web, "center")
        else:
            if not (0 <= int(load_node) < web.n_nodes):
                raise InputError(f"load node {load_node} is not in 0..{web.n_nodes - 1}")
            driven = np.array([int(load_node)])
        if supports is None:
            has_anchor = "anchor" in web.node_attrs and web.node_attrs["anchor"].any()
            supports = "anchors" if has_anchor else "boundary"
        fixed = np.setdiff1d(region_nodes(web, supports, ax, frac), driven)
        span = float((hi - lo).max())
        direction = np.eye(3)[ax]
    else:
        if hi[ax] - lo[ax] <= 0:
            raise InputError(f"the web is flat along {'xyz'[ax]}: choose another test axis")
        fixed = region_nodes(web, "bottom" if supports is None else supports, ax, frac)
        driven = np.setdiff1d(region_nodes(web, "top", ax, frac), fixed)
        if supports is None and "anchor" in web.node_attrs and web.node_attrs["anchor"].any():
            # a web is tested as it hangs: anchors stay attached to their supports
            fixed = np.setdiff1d(np.union1d(fixed, region_nodes(web, "anchors")), driven)
        span = float(hi[ax] - lo[ax])
        direction = np.eye(3)[ax] * (1.0 if kind == "tension" else -1.0)
    if len(fixed) == 0 or len(driven) == 0:
        raise InputError("supported and loaded regions are empty or identical")
    return fixed, driven, direction, span


def parse_pretension(value: str | float | None) -> float | str | None:
    """``"auto"``, ``"none"``/None, or a positive median thread tension [N] (a number or a
    numeric string); anything else raises :class:`InputError`."""
    if value is None:
        return None
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ("auto", "none"):
            return None if key == "none" else "auto"
        try:
            value = float(key)
        except ValueError:
            raise InputError(
                f"pretension must be auto, none or a tension in newtons, got {value!r}"
            ) from None
    v = float(value)
    if not (np.isfinite(v) and 0 < v < 1e6):
        raise InputError(f"pretension must be a positive tension in newtons, got {value!r}")
    return v


def virtual_test(
    web: WebGraph,
    test: str = "tension-z",
    material: str = "silk",
    strut: float | None = None,
    strain: float | None = None,
    steps: int = 50,
    frac: float = 0.05,
    load_node: int | None = None,
    supports: str | list[int] | None = None,
    pretension: str | float | None = "auto",
    progress: Callable[[float, int], None] | None = None,
) -> VirtualTestResult:
    """Run a virtual mechanical test to final failure (or to ``strain``).

    Parameters
    ----------
    web
        Structure, coordinates in mm. ``edge_attrs["diameter"]`` [mm] is used when
        present and ``strut`` is None; ``edge_attrs["force_density"]`` (or thread types)
        shape the pretension.
    test
        ``"tension-x|y|z"``, ``"compression-x|y|z"`` or ``"point-x|y|z"``.
    material
        ``silk`` (dragline, viscid for spiral threads), ``dragline``, ``viscid``, ``pla``,
        ``tpu`` or ``resin``.
    strut
        Strut / thread diameter [mm]; defaults 0.004 (silk) or 0.8 (printed).
    strain
        Final nominal strain: grip displacement over the extent along the axis (point
        tests: over the largest extent). None: run until final failure, at most
        :data:`MAX_STRAIN`.
    steps
        Resolution: no displacement increment exceeds the final displacement / ``steps``.
    frac
        Thickness of the grip slabs / boundary band as a fraction of the extent.
    load_node, supports
        Point-test node; support region (name or node list) overriding the default.
    pretension
        ``"auto"`` (silk: median dragline tension
        :data:`~araneus.mechanics.prestress.PRETENSION_FRACTION` of its breaking force;
        printed materials: none), ``"none"`` / None (stress-free start), or the median
        thread tension in newtons.
    progress
        Called with (fraction of the final displacement reached, members broken).
    """
    if strain is not None and not (np.isfinite(strain) and 0 < strain <= 10):
        raise InputError(f"strain must be in (0, 10], got {strain!r}")
    if not (2 <= int(steps) <= 100_000):
        raise InputError(f"steps must be in 2..100000, got {steps!r}")
    spec = prepare_test(web, test, material, strut, frac, load_node, supports, pretension)
    final = MAX_STRAIN if strain is None else float(strain)
    curve = displacement_control(
        spec.pos,
        spec.edges,
        spec.law,
        spec.member_diameter,
        spec.fixed,
        spec.driven,
        spec.direction,
        final * spec.span,
        steps=steps,
        bending=spec.bending,
        partial=True,
        rest_length=spec.rest_length,
        progress=progress,
    )
    kind, ax, keep_edges, diameter = spec.kind, spec.axis, spec.keep_edges, spec.diameter
    law, mat, prestress = spec.full_law, spec.material, spec.prestress
    stress = np.full(web.n_edges, np.nan)
    stress[keep_edges] = curve.stress_peak[spec.member_of]
    broken = np.zeros(web.n_edges, bool)
    broken[keep_edges[spec.first[curve.broken_step >= 0]]] = True
    return VirtualTestResult(
        test=f"{kind}-{'xyz'[ax]}",
        material=mat,
        strut=float(np.median(diameter)),
        mass=spec.mass,
        stiffness=float(curve.stiffness),
        peak_force=float(curve.force.max()),
        energy_to_failure=float(curve.external_work[-1]),
        curve=curve,
        member_stress=stress,
        broken=broken,
        n_unloaded_members=int(web.n_edges - len(keep_edges)),
        prestress=prestress,
        failure_stress=float(np.max(np.asarray(law.sigma_f, float))),
        strain=final,
    )


@dataclass
class TestSetup:
    """A web prepared for a test: the analysed part (renumbered), its law, supports,
    grip and prestress. ``keep_edges`` index the web's edges analysed; ``pos``,
    ``edges``, ``law``, ``rest_length`` are those of the analysed part."""

    kind: str
    axis: int
    material: str
    full_law: object
    law: object
    diameter: np.ndarray  # (E,) of the whole web
    pos: np.ndarray
    edges: np.ndarray
    keep_edges: np.ndarray
    fixed: np.ndarray
    driven: np.ndarray
    direction: np.ndarray
    span: float
    bending: bool
    prestress: Prestress | None
    rest_length: np.ndarray | None
    mass: float
    member_diameter: np.ndarray  # (M,) of the analysis members
    member_of: np.ndarray  # (len(keep_edges),) analysis member of each analysed edge
    first: np.ndarray  # (M,) one analysed edge (index into keep_edges) per member


def prepare_test(
    web: WebGraph,
    test: str = "tension-z",
    material: str = "silk",
    strut: float | None = None,
    frac: float = 0.05,
    load_node: int | None = None,
    supports: str | list[int] | None = None,
    pretension: str | float | None = "auto",
) -> TestSetup:
    """Supports, grip, analysed part and prestress of a test (see :func:`virtual_test`)."""
    if not isinstance(web, WebGraph):
        raise InputError(f"web must be a WebGraph, got {type(web).__name__}")
    if web.n_edges == 0:
        raise InputError("web has no edges: nothing to test")
    kind, ax = parse_test(test)
    level = parse_pretension(pretension)
    mat = str(material).lower()
    law = get_material(material, web)
    diameter = _diameters(web, mat, strut)
    fixed, driven, direction, span = _setup(web, kind, ax, frac, load_node, supports)
    keep_nodes, keep_edges = _loaded_part(web, np.union1d(fixed, driven))
    if level == "auto":
        level = "auto" if mat in PRETENSIONED else None
    sub = _Sub(web, keep_nodes, keep_edges, fixed, driven)
    sub_law = law.take(keep_edges) if hasattr(law, "take") else law
    prestress, rest = None, None
    pos = web.pos[keep_nodes]
    if level is not None:
        prestress = _prestress(web, sub, sub_law, diameter[keep_edges], level)
        act = prestress.active
        sub.edges, keep_edges = sub.edges[act], keep_edges[act]
        sub_law = sub_law.take(np.flatnonzero(act)) if hasattr(sub_law, "take") else sub_law
        pos, rest = prestress.pos, prestress.rest_length[act]
    vol = np.pi * diameter**2 / 4 * web.edge_lengths
    edges, mdiam = sub.edges, diameter[keep_edges]
    member_of = first = np.arange(len(keep_edges))
    if law.tension_only:  # polylines of threads: one member per chain (exact)
        lengths = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
        keep = np.zeros(len(pos), bool)
        keep[np.r_[sub.fixed, sub.driven]] = True
        ch = condense_chains(edges, len(pos), keep, _law_kind(sub_law, mdiam),
                             lengths if rest is None else rest)  # fmt: skip
        edges, member_of, first = ch.edges, ch.chain_of, ch.first
        sub_law = sub_law.take(first) if hasattr(sub_law, "take") else sub_law
        mdiam = mdiam[first]
        rest = ch.rest_length if rest is not None else None
        if rest is None:  # stress-free start: the chains' own lengths, not their spans
            rest = ch.rest_length
    return TestSetup(
        kind, ax, mat, law, sub_law, diameter, pos, edges, keep_edges, sub.fixed,
        sub.driven, direction, span, isinstance(law, ElasticPlastic) and not law.tension_only,
        prestress, rest, float(law.density * vol.sum() * 1e-6), mdiam, member_of, first,
    )  # fmt: skip


def _law_kind(law, diameter: np.ndarray) -> np.ndarray:
    """(M,) integer key: members with equal law parameters and diameter share it."""
    m = len(diameter)
    cols = [diameter]
    for f in fields(law):
        v = getattr(law, f.name)
        if isinstance(v, (int, float, np.ndarray)) and not isinstance(v, bool):
            cols.append(np.broadcast_to(np.asarray(v, np.float64), (m,)))
    return np.unique(np.stack(cols, 1), axis=0, return_inverse=True)[1].ravel()


def linear_stiffness(
    web: WebGraph,
    test: str = "tension-z",
    material: str = "silk",
    strut: float | None = None,
    frac: float = 0.05,
    pretension: str | float | None = "auto",
) -> tuple[float, float]:
    """Initial (tangent) stiffness [N/mm] of a test and the web's mass [g], without the
    nonlinear path: the prestressed web's tangent condensed onto the grip."""
    from .nonlinear import tangent_stiffness

    spec = prepare_test(web, test, material, strut, frac, pretension=pretension)
    k = tangent_stiffness(
        spec.pos, spec.edges, spec.law, spec.member_diameter, spec.fixed,
        spec.driven, spec.direction, spec.rest_length, spec.bending,
    )  # fmt: skip
    return k, spec.mass


class _Sub:
    """The analysed part of a web: edges and boundary nodes renumbered to its nodes."""

    def __init__(self, web, keep_nodes, keep_edges, fixed, driven):
        remap = np.full(web.n_nodes, -1)
        remap[keep_nodes] = np.arange(len(keep_nodes))
        self.edges = remap[web.edges[keep_edges]]
        self.fixed = remap[fixed][remap[fixed] >= 0]
        self.driven = remap[driven][remap[driven] >= 0]
        if len(self.fixed) == 0 or len(self.driven) == 0:
            raise InputError(
                f"the {'supported' if len(self.fixed) == 0 else 'loaded'} region has no members"
            )
        self.keep_nodes, self.keep_edges = keep_nodes, keep_edges


def _diameters(web: WebGraph, mat: str, strut: float | None) -> np.ndarray:
    if strut is not None:
        diameter = np.full(web.n_edges, float(strut))
    elif "diameter" in web.edge_attrs:
        diameter = np.asarray(web.edge_attrs["diameter"], float)
    else:
        diameter = np.full(web.n_edges, DEFAULT_STRUT.get(mat, DEFAULT_STRUT_PRINTED))
    if not (np.isfinite(diameter).all() and (diameter > 0).all()):
        raise InputError(f"strut diameter must be positive and finite, got {strut!r}")
    return diameter


def _prestress(web: WebGraph, sub: _Sub, law, diameter: np.ndarray, level) -> Prestress:
    """Self-stress of the analysed part with all supports and grips held.

    Target force densities: ``edge_attrs["force_density"]``, else each thread's breaking
    force over its length; the level is set on the dragline (non-viscid) threads.
    """
    from .materials import VISCID_THREADS

    ids = sub.keep_edges
    reference, q0, source = None, None, "breaking force"
    if "force_density" in web.edge_attrs:
        q0, source = np.asarray(web.edge_attrs["force_density"], float)[ids], "force_density"
    if "thread" in web.edge_attrs:
        codes = web.edge_attrs["thread"].astype(int)[ids]
        reference = ~np.isin(codes, [THREAD_CODE[t] for t in VISCID_THREADS])
    return compute_prestress(
        web.pos[sub.keep_nodes],
        sub.edges,
        np.r_[sub.fixed, sub.driven],
        law,
        diameter,
        level=None if level == "auto" else float(level),
        q0=q0,
        reference=reference,
        source=source,
    )


def _loaded_part(web: WebGraph, bc_nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and edges (indices) of the components that touch a support or grip."""
    labels = web.component_labels
    comps = np.unique(labels[bc_nodes])
    has_edge = np.zeros(web.n_nodes, bool)
    has_edge[web.edges.ravel()] = True
    keep = np.isin(labels, comps) & has_edge
    keep_edges = np.flatnonzero(keep[web.edges[:, 0]])
    if len(keep_edges) == 0:
        raise InputError("no member connects to the supported or loaded regions")
    return np.flatnonzero(keep), keep_edges
