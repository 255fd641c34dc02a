"""Mechanical descriptors of webs: stiffness per gram in tension along x, y, z and under a
point load, for silk threads (pretensioned) or a printed material, fast and batched.

Definitions (units: N/mm per g; positions in mm)
------------------------------------------------
A web analysed here is usually a *piece* cut out of a larger web (a dataset sample, a
generated piece): its threads were held by the rest of the web where they were cut. The
descriptors hold the piece there, at its **attachment points**:

* every node whose threads cannot balance one another: the smallest resultant of its
  unit thread directions under convex weights, ``min_w |sum_j w_j u_j|``, exceeds
  :data:`ATTACHMENT_IMBALANCE` (0.5). A loose end (one thread: 1) always qualifies; a
  node with two threads qualifies when the thread turns there by more than 60 degrees.
  In a taut web a thread bends only where another thread pulls it; the jitter of a
  scan-like skeleton bends it less (90% of the unbroken degree-2 nodes of the default
  data turn by less than 44 degrees), so those bends are straightened by the prestress,
  not held;
* the web's anchors (``node_attrs["anchor"]``), if any;
* if fewer than two nodes qualify, the nodes of smallest and largest x, y and z.

Silk (``silk``, ``dragline``, ``viscid``) is pretensioned first: the self-stress state of
:func:`araneus.mechanics.prestress.compute_prestress` with the attachment points held
(force densities fitted to the geometry, force-density form finding, Gauss-Newton
refinement, level from the breaking force). Printed materials (``pla``, ``tpu``,
``resin``) are stress-free frames (fused joints), as in :func:`~araneus.mechanics.virtual_test`.

``stiffness_{x,y,z}_per_mass``
    Effective tension stiffness along the axis: the attachment points move with a uniform
    stretch ``eps`` along it (``u = eps (x_a - min x_a) e_a``, other components and
    rotations held: the kinematic uniform boundary conditions of computational
    homogenisation), every other node is in equilibrium, and ``k = 2 W / delta^2`` with
    ``W`` the strain energy of the response and ``delta = eps * extent`` the stretch of
    the whole web. With two attachment points at the two ends of the extent this is the
    grip stiffness of a tension test between them. A web flat along the axis gets 0.
``point_stiffness_per_mass``
    Stiffness under a point load normal to the web: the attachment points held, the node
    nearest the bounding-box centre (among the free nodes of the analysed part) moved
    along the web's normal (the principal axis of least spread of its nodes), as the
    ``point`` test of :func:`~araneus.mechanics.virtual_test` with those supports.

Both are initial tangent stiffnesses (material plus geometric stiffness of the
prestress), divided by the mass of the whole web (density x strut volume of every
thread) [g]. A descriptor that cannot be defined (nothing can be pretensioned, no free
node to load) is NaN.

Speed: webs are processed in batches as one block-diagonal sparse system
(:mod:`araneus.mechanics.batched`); :func:`descriptor_reference` computes the same
numbers one web at a time through the general mechanics (for tests).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import InputError
from ..web import WebGraph
from .attachment import Union, load_nodes, piece_tests
from .materials import MATERIALS, ElasticPlastic, SilkLaw, get_material
from .virtual import PRETENSIONED, parse_pretension

#: Names of the mechanical descriptors (dataset feature names), in column order.
MECHANICAL_FEATURES: tuple[str, ...] = (
    "stiffness_x_per_mass",
    "stiffness_y_per_mass",
    "stiffness_z_per_mass",
    "point_stiffness_per_mass",
)
#: Units of the descriptors.
MECHANICAL_UNITS: dict[str, str] = {name: "N/mm/g" for name in MECHANICAL_FEATURES}
#: Default batch size (webs per sparse system).
BATCH = 128


# ------------------------------------------------------------------------- computation
def _material(material: str, pretension) -> tuple[str, float | None, bool]:
    """Checked material name, pretension level (None: default) and whether it is silk."""
    mat = str(material).lower()
    if mat not in MATERIALS:
        raise InputError(f"unknown material {material!r}; valid: {', '.join(MATERIALS)}")
    level = parse_pretension(pretension)
    silk = mat in PRETENSIONED
    if silk and level is None:
        raise InputError(
            f"{mat} threads are analysed pretensioned: pretension must be auto or a tension "
            "in newtons (a stress-free thread net has no stiffness)"
        )
    if not silk and level not in (None, "auto"):
        raise InputError(f"printed {mat} is analysed stress-free: pretension must be auto or none")
    return mat, (None if level in (None, "auto") else float(level)), silk


def _union_law(u: Union, mat: str):
    """Per-edge law of the union and the density [kg/m^3]."""
    if mat == "silk":
        from .materials import DRAGLINE, VISCID

        kw = {k: np.where(u.viscid, getattr(VISCID, k), getattr(DRAGLINE, k))
              for k in ("E1", "eps_y", "E2", "eps_s", "sigma_f", "eps_f")}  # fmt: skip
        return SilkLaw(**kw, density=DRAGLINE.density, name="silk"), DRAGLINE.density
    law = get_material(mat)
    return law, float(law.density)


def _compute(u: Union, mat: str, level: float | None, silk: bool) -> tuple[np.ndarray, dict]:
    """(P, 4) descriptors of the webs of one union, and figures of the prestress."""
    from scipy.sparse.csgraph import connected_components

    from .batched import batch_prestress, condensed_stiffness
    from .members import Members
    from .segments import seg_median

    n, npc = u.n, u.node_piece
    out = np.full((n, 4), np.nan)
    info: dict = {}
    if len(u.edges) == 0:
        return out, info
    law, density = _union_law(u, mat)
    tests = piece_tests(u, density)
    length = np.linalg.norm(u.pos[u.edges[:, 1]] - u.pos[u.edges[:, 0]], axis=1)
    ok = np.ones(n, bool)
    if silk:
        sigma_f = np.broadcast_to(np.asarray(law.sigma_f, np.float64), length.shape)
        q0 = np.where(np.isnan(u.q0), sigma_f * np.pi * u.diameter**2 / 4 / length, u.q0)
        bp = batch_prestress(u.pos, u.edges, tests.held, npc, n, law, u.diameter, level, q0,
                             reference=~u.viscid)  # fmt: skip
        ok = bp.failed == ""
        act = bp.active & ok[u.edge_piece]
        pos, rest = bp.pos, bp.rest_length[act]
        free = ~tests.held
        ext = tests.span.max(1)
        info = {
            "moved_max_rel": (seg_max_safe(bp.moved, npc, n) / np.maximum(ext, 1e-300)),
            "moved_median_rel": seg_median(bp.moved[free], npc[free], n) / np.maximum(ext, 1e-300),
            "held_fraction": np.bincount(npc[tests.held], minlength=n)[:n]
            / np.maximum(np.bincount(npc, minlength=n)[:n], 1),
            "failed": bp.failed,
        }
    else:
        from scipy import sparse

        adj = sparse.coo_matrix((np.ones(len(u.edges)), tuple(u.edges.T)), shape=(len(u.pos),) * 2)
        _, lab = connected_components(adj, directed=False)
        supported = np.zeros(lab.max() + 1, bool)
        supported[lab[tests.held]] = True
        act = supported[lab[u.edges[:, 0]]]
        pos, rest = u.pos, length[act]
    edges = u.edges[act]
    bending = isinstance(law, ElasticPlastic) and not law.tension_only
    sub_law = law.take(np.flatnonzero(act)) if np.ndim(law.E) else law
    members = Members(pos, edges, sub_law, u.diameter[act], rest, bending)
    ndof = members.ndof
    kt = members.evaluate(np.zeros((len(pos), ndof))).kt
    has_member = np.zeros(len(pos), bool)
    has_member[edges.ravel()] = True
    held = tests.held | ~has_member
    load = load_nodes(pos, ~held, npc, n, tests)
    patterns = np.zeros((len(pos), ndof, 3))
    flat = tests.span <= 1e-9 * np.maximum(tests.span.max(1, keepdims=True), 1e-300)
    rel = (u.pos - tests.lo[npc]) / np.where(flat, 1.0, tests.span)[npc]
    for a in range(3):
        patterns[:, a, a] = np.where(held & ~flat[npc, a], rel[:, a], 0.0)
    k, s = condensed_stiffness(
        kt, np.repeat(held, ndof), patterns.reshape(-1, 3), np.repeat(npc, ndof), n, load, ndof
    )
    point = np.einsum("pi,pij,pj->p", tests.normal, s[:, :3, :3], tests.normal)
    out[:, :3] = k
    out[:, 3] = point
    mass = tests.mass[:, None]
    out = np.divide(out, mass, out=np.full_like(out, np.nan), where=mass > 0)
    out[~ok] = np.nan
    return out, info


def seg_max_safe(values, seg, n):
    """Per-web maxima, 0 for a web without values."""
    from .segments import seg_max

    return seg_max(values, seg, n, empty=0.0)


def mechanical_descriptors(
    webs: Sequence[WebGraph],
    material: str = "silk",
    strut: float | None = None,
    pretension: str | float = "auto",
    batch_size: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Mechanical descriptors of webs (module docstring), (S, 4) [N/mm/g] in
    :data:`MECHANICAL_FEATURES` order; NaN where one cannot be defined.

    Parameters
    ----------
    webs
        WebGraphs, positions in mm (``diameter``, ``thread``, ``force_density`` and
        ``anchor`` attributes are used when present).
    material
        ``silk`` (dragline, viscid for spiral threads), ``dragline``, ``viscid``
        (pretensioned) or ``pla``, ``tpu``, ``resin`` (printed, stress-free).
    strut
        Thread / strut diameter [mm]; default each web's ``diameter`` attribute, else
        0.004 (silk) or 0.8 (printed).
    pretension
        Silk: ``"auto"`` (the literature default) or the median thread tension [N].
    batch_size
        Webs per sparse system.
    progress
        Called with (webs done, total) after each batch.
    """
    mat, level, silk = _material(material, pretension)
    webs = list(webs)
    out = np.full((len(webs), 4), np.nan)
    for start in range(0, len(webs), _check_batch(batch_size)):
        chunk = webs[start : start + batch_size]
        out[start : start + len(chunk)] = _compute(Union.from_webs(chunk, mat, strut), mat, level,
                                                   silk)[0]  # fmt: skip
        if progress is not None:
            progress(start + len(chunk), len(webs))
    return out


def padded_descriptors(
    pos: np.ndarray,
    nbrs: np.ndarray,
    mask: np.ndarray,
    material: str = "silk",
    strut: float | None = None,
    pretension: str | float = "auto",
    batch_size: int = BATCH,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """Descriptors of the samples of padded dataset arrays (pos (S, L, 3) [mm], nbrs
    (S, L, K), mask (S, L)), (S, 4), and per-sample prestress figures (silk:
    ``moved_max_rel``, ``moved_median_rel`` (form-finding movement over the web's extent),
    ``held_fraction``). ``workers`` > 1 splits the batches over processes."""
    mat, level, silk = _material(material, pretension)
    bs = _check_batch(batch_size)
    s = len(mask)
    jobs = [(start, min(start + bs, s)) for start in range(0, s, bs)]
    args = [(pos[a:b], nbrs[a:b], mask[a:b], mat, strut, level, silk) for a, b in jobs]
    out = np.full((s, 4), np.nan)
    info: dict[str, np.ndarray] = {}
    results = _map(_padded_job, args, int(workers))
    for (a, b), (vals, inf) in zip(jobs, results):
        out[a:b] = vals
        for key, v in inf.items():
            info.setdefault(key, np.full(s, np.nan if key != "failed" else "", dtype=v.dtype))
            info[key][a:b] = v
        if progress is not None:
            progress(b, s)
    return out, info


def _padded_job(args) -> tuple[np.ndarray, dict]:
    pos, nbrs, mask, mat, strut, level, silk = args
    return _compute(Union.from_padded(pos, nbrs, mask, mat, strut), mat, level, silk)


def _map(fn, args: list, workers: int):
    """``map(fn, args)``, over ``workers`` processes when more than one (lazily)."""
    if workers <= 1 or len(args) <= 1:
        return map(fn, args)
    import concurrent.futures as cf
    import multiprocessing as mp

    ctx = mp.get_context("spawn" if os.name != "posix" else "forkserver")
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:
        return list(pool.map(fn, args))
    finally:
        pool.shutdown()


def _check_batch(batch_size: int) -> int:
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def descriptor_reference(
    web: WebGraph,
    material: str = "silk",
    strut: float | None = None,
    pretension: str | float = "auto",
    prestress=None,
) -> np.ndarray:
    """The descriptors of one web through the general mechanics, slowly: the prestress of
    :func:`~araneus.mechanics.prestress.compute_prestress` (or ``prestress``: an object
    with ``pos``, ``rest_length`` and ``active``, e.g. from
    :func:`~araneus.mechanics.batched.batch_prestress`), the point test by
    :func:`~araneus.mechanics.nonlinear.tangent_stiffness`, the tension tests by a dense
    solve on the tangent of :class:`~araneus.mechanics.members.Members`. (4,) [N/mm/g]."""
    from scipy.sparse.csgraph import connected_components

    from .members import Members
    from .nonlinear import tangent_stiffness
    from .prestress import compute_prestress

    mat, level, silk = _material(material, pretension)
    u = Union.from_webs([web], mat, strut)
    law, density = _union_law(u, mat)
    tests = piece_tests(u, density)
    held_idx = np.flatnonzero(tests.held)
    pos, edges = u.pos, u.edges
    length = web.edge_lengths
    if silk:
        if prestress is None:
            q0 = None if np.isnan(u.q0).all() else u.q0
            prestress = compute_prestress(pos, edges, held_idx, law, u.diameter, level, q0,
                                          ~u.viscid if u.viscid.any() else None)  # fmt: skip
        act = np.asarray(prestress.active, bool)
        pos, rest = np.asarray(prestress.pos), np.asarray(prestress.rest_length)[act]
    else:
        adj = np.zeros((web.n_nodes, web.n_nodes))
        adj[edges[:, 0], edges[:, 1]] = 1
        _, lab = connected_components(adj, directed=False)
        act = np.isin(lab[edges[:, 0]], lab[held_idx])
        rest = length[act]
    ea = edges[act]
    bending = isinstance(law, ElasticPlastic) and not law.tension_only
    sub = law.take(np.flatnonzero(act)) if np.ndim(law.E) else law
    members = Members(pos, ea, sub, u.diameter[act], rest, bending)
    ndof = members.ndof
    k = members.evaluate(np.zeros((len(pos), ndof))).kt.toarray()
    has = np.zeros(len(pos), bool)
    has[ea.ravel()] = True
    held = tests.held | ~has
    out = np.full(4, np.nan)
    hd = np.repeat(held, ndof)
    lo, span = tests.lo[0], tests.span[0]
    for a in range(3):
        if span[a] <= 1e-9 * span.max():
            out[a] = 0.0
            continue
        g = np.zeros((len(pos), ndof))
        g[held, a] = (web.pos[held, a] - lo[a]) / span[a]
        g = g.ravel()
        full = g.copy()
        kff = k[~hd][:, ~hd]  # with the diagonal floor of tangent_stiffness
        kff = kff + 1e-12 * max(float(np.abs(np.diag(kff)).max(initial=0)), 1e-300) * np.eye(
            len(kff)
        )
        full[~hd] = np.linalg.solve(kff, -(k @ g)[~hd])
        out[a] = full @ k @ full
    c = load_nodes(pos, ~held, np.zeros(len(pos), np.int64), 1, tests)[0]
    if c >= 0:
        out[3] = tangent_stiffness(pos, ea, sub, u.diameter[act], held_idx, [c], tests.normal[0],
                                   rest, bending)  # fmt: skip
    return out / tests.mass[0]
