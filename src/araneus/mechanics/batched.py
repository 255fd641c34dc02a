"""Batched linear mechanics of many small webs: one sparse system for a whole batch.

The webs of a batch are joined into one disjoint union (node and edge indices offset,
every array carries the index of the web it belongs to). Every matrix of the union is
block-diagonal, so one sparse factorisation serves all webs at once and each web's
numbers are exactly those of its own block: nothing couples the webs but the shared
factorisation. Per-web scalars (medians, scales, Lagrange multipliers, accept/reject
decisions of an iteration) are computed with segment reductions
(:mod:`araneus.mechanics.segments`).

* :func:`batch_prestress` - the self-stress state of
  :func:`araneus.mechanics.prestress.compute_prestress` for every web of a batch. The
  steps are those of :mod:`araneus.mechanics.prestress`, called on the union: the
  load-bearing rule (:func:`~araneus.mechanics.prestress.load_bearing_edges`), the
  force-density fit (:func:`~araneus.mechanics.prestress.fit_force_densities`, per web),
  force-density form finding, the level with its caps
  (:func:`~araneus.mechanics.prestress.level_scale`, per web); only the Gauss-Newton
  refinement of the densities is batched here, with its inner damped least-squares
  problem solved exactly in the dual form ``y = -G^T (G G^T + delta D^2)^-1 D r``
  (instead of by 50 LSQR iterations), and the rest lengths by the closed-form inverse of
  the silk law (:func:`strain_at`).

* :func:`condensed_stiffness` - prescribed-displacement responses of a tangent matrix
  (the grip stiffness of :func:`araneus.mechanics.nonlinear.tangent_stiffness`, with its
  1e-12 diagonal floor) and Schur complements onto single nodes, for every web at once
  (static condensation of the linear tangent; not the chain condensation of
  :mod:`araneus.mechanics.chains`, which replaces thread polylines by single members in
  the nonlinear test).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import SolverError
from .prestress import _ForceDensity, fit_force_densities, level_scale, load_bearing_edges
from .segments import seg_max, seg_median, seg_sum


@dataclass
class BatchPrestress:
    """Self-stress states of a batch of webs (arrays over the union's nodes / edges).

    ``pos`` (N, 3) equilibrium positions; ``tension`` (E,) [N] (0 outside the load-bearing
    part); ``rest_length`` (E,); ``active`` (E,) load-bearing threads; ``moved`` (N,)
    distance each node moved [mm]; ``level`` (P,) median reference tension [N];
    ``failed`` (P,) a message for each web that could not be pretensioned ('' if fine);
    ``refined`` (P,) webs whose force densities were refined.
    """

    pos: np.ndarray
    tension: np.ndarray
    rest_length: np.ndarray
    active: np.ndarray
    moved: np.ndarray
    level: np.ndarray
    failed: np.ndarray
    refined: np.ndarray


class _Batch(_ForceDensity):
    """The load-bearing part of a batch: nodes, active edges, free nodes, pieces; the
    force-density equilibrium of :mod:`araneus.mechanics.prestress` on the union."""

    def __init__(self, pos, edges, free, node_piece, n_pieces):
        super().__init__(pos, edges, free)
        self.edges = edges
        self.node_piece, self.n = node_piece, n_pieces
        self.edge_piece = node_piece[edges[:, 0]] if len(edges) else np.zeros(0, np.int64)
        self.free_piece = node_piece[free]

    def solve(self, q: np.ndarray):
        """Positions (N, 3) and the factors ``(lu, D_ff)`` (None where nothing is free)."""
        x, lu, d = self.factor(q)
        return x, (None if lu is None else (lu, d))


def _refine(b: _Batch, q: np.ndarray, iters: int = 8, bound: float = 30.0):
    """Gauss-Newton on ``log q`` of :meth:`araneus.mechanics.prestress._ForceDensity.refine`
    for every web of ``b`` at once (per-web damping and accept/reject); the damped
    least-squares step is solved exactly in its dual form."""
    n, ep, fp = b.n, b.edge_piece, b.free_piece
    pos, free = b.pos, b.free
    q_start = q
    z = np.zeros(len(q))
    x, (lu, d) = b.solve(q)
    length = np.linalg.norm(b.c @ pos, axis=1)
    reg = (0.1 * seg_median(length, ep, n)) ** 2
    lam = reg.copy()

    def cost(z, x):
        d2 = np.sum((x[free] - pos[free]) ** 2, axis=1)
        return seg_sum(d2, fp, n) + reg * seg_sum(z**2, ep, n)

    best = cost(z, x)
    run = np.ones(n, bool)
    lim = np.log(bound)
    f = len(fp)
    for _ in range(iters):
        qz = q_start * np.exp(z)
        vec = b.c @ x
        # G = [C_f^T diag(q v_k)]_k stacked (3F, E): J = -blockdiag(D^-1) G
        g = sp.vstack([b.cf.T @ sp.diags(qz * vec[:, k]) for k in range(3)]).tocsr()
        gz = g @ z
        jz = -np.column_stack([lu.solve(gz[k * f : (k + 1) * f]) for k in range(3)])
        r = x[free] - pos[free]
        cc = lam / (reg + lam)
        rhs = (1 - cc)[fp, None] * jz - r
        dd = sp.diags((reg + lam)[fp]) @ (d @ d)
        s = (g @ g.T + sp.block_diag([dd, dd, dd])).tocsc()
        sol = spla.splu(s, permc_spec="MMD_AT_PLUS_A").solve(
            np.concatenate([d @ rhs[:, k] for k in range(3)])
        )
        y = -(g.T @ sol)
        z_new = np.clip(y + cc[ep] * z, -lim, lim)
        x_new, fac_new = b.solve(q_start * np.exp(z_new))
        new = cost(z_new, x_new)
        better = run & (new < best)
        stop = better & (new > 0.95 * best)
        z = np.where(better[ep], z_new, z)
        x = np.where(better[b.node_piece][:, None], x_new, x)
        best = np.where(better, new, best)
        lam = np.where(better & ~stop, lam / 3, np.where(run & ~better, lam * 10, lam))
        run &= ~stop
        if not run.any():
            break
        if better[run].all() or not better.any():  # one factorisation matches every web
            lu, d = fac_new if better.any() else (lu, d)
        else:
            x, (lu, d) = b.solve(q_start * np.exp(z))
    return x, q_start * np.exp(z)


def _sub_batch(pos, edges, free, node_piece, pieces: np.ndarray):
    """The webs ``pieces`` (bool mask over webs) of a union as their own batch; returns
    the batch and the node and edge indices it takes from the union."""
    nodes = np.flatnonzero(pieces[node_piece])
    eidx = np.flatnonzero(pieces[node_piece[edges[:, 0]]])
    remap = np.full(len(pos), -1)
    remap[nodes] = np.arange(len(nodes))
    renum = np.cumsum(pieces) - 1
    sub = _Batch(
        pos[nodes], remap[edges[eidx]], free[nodes], renum[node_piece[nodes]], int(pieces.sum())
    )
    return sub, nodes, eidx


def _nearest_equilibrium(pos, edges, free, node_piece, n, q0):
    """Per web: form finding with ``q0`` or the fitted densities, whichever moves the free
    nodes less (median), then Gauss-Newton refinement where they moved more than 1% of
    the median thread (:func:`araneus.mechanics.prestress._nearest_equilibrium`)."""
    b = _Batch(pos, edges, free, node_piece, n)
    x, q = b.solve(q0)
    moved = seg_median(np.linalg.norm(x - pos, axis=1)[free], b.free_piece, n)
    q_fit = fit_force_densities(pos, edges, free, q0, piece=node_piece, n_pieces=n)
    x_fit, _ = b.solve(q_fit)
    moved_fit = seg_median(np.linalg.norm(x_fit - pos, axis=1)[free], b.free_piece, n)
    length = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    med = seg_median(length, b.edge_piece, n)
    # Where held nodes split a web into independent sub-nets, the geometry does not fix
    # their relative tension: q0 and the fit then move the nodes alike, and round-off
    # would choose. The fit must be better by more than that to be used (NaN: no free
    # node, compares False: keep q0).
    use_fit = moved_fit < moved - 1e-9 * med
    x = np.where(use_fit[node_piece][:, None], x_fit, x)
    q = np.where(use_fit[b.edge_piece], q_fit, q0)
    moved = np.where(use_fit, moved_fit, moved)
    refine = moved > 0.01 * med
    if refine.any():
        sub, nodes, eidx = _sub_batch(pos, edges, free, node_piece, refine)
        x_r, q_r = _refine(sub, q[eidx])
        x[nodes], q[eidx] = x_r, q_r
    return x, q, refine


def batch_prestress(
    pos: np.ndarray,
    edges: np.ndarray,
    held: np.ndarray,
    node_piece: np.ndarray,
    n_pieces: int,
    law,
    diameter: np.ndarray,
    level: float | None = None,
    q0: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> BatchPrestress:
    """Self-stress state of every web of a batch (the steps of
    :func:`araneus.mechanics.prestress.compute_prestress`, per web).

    Parameters
    ----------
    pos, edges
        (N, 3) positions [mm] and (E, 2) threads of the union of the webs.
    held
        (N,) bool: nodes held during form finding (supports, grips, attachment points).
    node_piece
        (N,) index of the web each node belongs to (0..n_pieces-1).
    law
        Silk law with per-thread (E,) or scalar parameters.
    diameter
        (E,) thread diameters [mm].
    level
        Median tension of the reference threads [N]; None = the literature default.
    q0
        (E,) target force densities; None = breaking force over length.
    reference
        (E,) threads whose median tension sets the level; None = all.
    """
    pos = np.asarray(pos, np.float64)
    edges = np.asarray(edges, np.int64)
    n, m = len(pos), len(edges)
    P = int(n_pieces)  # noqa: N806
    edge_piece = node_piece[edges[:, 0]]
    area = np.pi * np.broadcast_to(diameter, (m,)) ** 2 / 4
    sigma_f = np.broadcast_to(np.asarray(law.sigma_f, np.float64), (m,))
    length0 = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    q0 = sigma_f * area / length0 if q0 is None else np.asarray(q0, np.float64)
    failed = np.full(P, "", dtype=object)
    active = load_bearing_edges(edges, n, np.flatnonzero(held))
    none = np.bincount(edge_piece[active], minlength=P)[:P] == 0
    failed[none] = (
        "no thread can be pretensioned: every thread belongs to a loose end or to a part "
        "that no support holds"
    )
    ea = edges[active]
    used = np.zeros(n, bool)
    used[ea.ravel()] = True
    free = used & ~held
    new_pos, q, refined = _nearest_equilibrium(pos, ea, free, node_piece, P, q0[active])
    eap = edge_piece[active]
    length = np.linalg.norm(new_pos[ea[:, 1]] - new_pos[ea[:, 0]], axis=1)
    extent = _piece_extent(pos, node_piece, P)
    short = np.bincount(eap[length <= 1e-9 * np.maximum(extent[eap], 1e-300)], minlength=P)[:P]
    failed[(short > 0) & (failed == "")] = (
        "form finding collapsed a thread to zero length: the supports cannot hold this web "
        "in tension"
    )
    tension = q * length
    ref = np.ones(len(ea), bool) if reference is None else np.asarray(reference, bool)[active]
    has_ref = np.bincount(eap[ref], minlength=P)[:P] > 0
    ref = ref | ~has_ref[eap]
    breaking = sigma_f[active] * area[active]
    scale, over = level_scale(tension, breaking, ref, eap, P, level)
    if level is not None:
        failed[(over > 0) & (failed == "")] = (
            f"a pretension of {level:.3g} N (median) overloads threads beyond their breaking force"
        )
    bad = failed != ""
    scale = np.where(bad | ~np.isfinite(scale), 1.0, scale)
    tension = tension * scale[eap]
    tension = np.where(bad[eap], 0.0, tension)
    lev = seg_median(tension[ref], eap[ref], P)
    full_t = np.zeros(m)
    full_t[active] = tension
    rest = length0.copy()
    sub_law = law.take(np.flatnonzero(active)) if hasattr(law, "take") else law
    strain = strain_at(sub_law, np.minimum(tension / area[active], sigma_f[active] * (1 - 1e-9)))
    rest[active] = length / (1.0 + strain)
    moved = np.linalg.norm(new_pos - pos, axis=1)
    return BatchPrestress(new_pos, full_t, rest, active, moved, lev, failed, refined)


def strain_at(law, stress: np.ndarray) -> np.ndarray:
    """Strain at nominal ``stress`` [MPa] on the loading curve of a silk law, in closed form:
    the law is piecewise quadratic in the strain (:meth:`SilkLaw._pieces`), so each
    stress is located among the segment-start stresses and its segment's quadratic is
    solved (the same numbers as the bisection of :meth:`SilkLaw.strain_at`). Other laws:
    their own ``strain_at``."""
    from .materials import SilkLaw

    if not isinstance(law, SilkLaw):
        return law.strain_at(stress)
    s = np.asarray(stress, np.float64)
    starts, coef, _ = law._pieces
    shape = np.broadcast_shapes(s.shape, starts.shape[:-1])
    s = np.broadcast_to(s, shape)
    starts = np.broadcast_to(starts, (*shape, 5))
    coef = np.broadcast_to(coef, (*shape, 5, 4))
    if np.any(coef[..., 3] != 0):  # pragma: no cover - the law has no cubic segment
        return law.strain_at(stress)
    k = (s[..., None] >= coef[..., 1:, 0]).sum(axis=-1)
    c = np.take_along_axis(coef, k[..., None, None], -2)[..., 0, :]
    x0 = np.take_along_axis(starts, k[..., None], -1)[..., 0]
    c0, c1, c2 = c[..., 0] - s, c[..., 1], c[..., 2]
    disc = np.sqrt(np.maximum(c1 * c1 - 4 * c2 * c0, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        # the root in the segment, in the cancellation-free form -2 c0 / (c1 + sqrt(.))
        x = np.where(c1 + disc > 0, -2 * c0 / (c1 + disc), 0.0)
    return np.where(s <= 0, 0.0, x0 + x)


def _piece_extent(pos: np.ndarray, node_piece: np.ndarray, n: int) -> np.ndarray:
    """(n,) largest bounding-box side of each web."""
    hi = np.stack([seg_max(pos[:, k], node_piece, n) for k in range(3)], 1)
    lo = -np.stack([seg_max(-pos[:, k], node_piece, n) for k in range(3)], 1)
    return np.where(np.isfinite(hi - lo), hi - lo, 0.0).max(axis=1)


def condensed_stiffness(
    kt: sp.spmatrix,
    prescribed: np.ndarray,
    patterns: np.ndarray,
    dof_piece: np.ndarray,
    n_pieces: int,
    nodes: np.ndarray | None = None,
    ndof: int = 3,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Grip stiffness of prescribed displacement patterns, and Schur complements onto
    single nodes, for every web of a block-diagonal tangent at once.

    Parameters
    ----------
    kt
        (D, D) tangent of the union (D = N * ndof), block-diagonal over the webs.
    prescribed
        (D,) bool: DOFs held or driven (the others are free).
    patterns
        (D, T) prescribed displacement patterns (0 on free DOFs): for each, the energy
        ``2 W = u^T K u`` of the response ``u`` (pattern on the prescribed DOFs,
        equilibrium on the free ones) is returned per web. A rigid grip moved by a unit
        displacement gives the grip stiffness [N/mm], as
        :func:`araneus.mechanics.nonlinear.tangent_stiffness` does.
    dof_piece
        (D,) web of each DOF.
    nodes
        Optional (P,) node per web (-1: none) whose DOFs are free: the tangent condensed
        onto that node with everything else prescribed held is returned as (P, ndof, ndof)
        (its inverse is the node's block of ``K_ff^-1``).

    The free block gets the diagonal floor of ``tangent_stiffness`` (1e-12 of each web's
    largest free diagonal entry), and is solved by one sparse LU of the symmetrically
    scaled matrix.
    """
    k = kt.tocsr()
    n = int(n_pieces)
    free = ~prescribed
    fidx = np.flatnonzero(free)
    kff = k[fidx][:, fidx]
    diag = np.abs(kff.diagonal())
    fpiece = dof_piece[fidx]
    top = seg_max(diag, fpiece, n, empty=0.0)
    floor = 1e-12 * np.maximum(top, 1e-300)[fpiece]
    scale = 1.0 / np.sqrt(np.maximum(diag, floor))
    shifted = kff + sp.diags(floor)
    cols = [-(k @ patterns)[fidx]]
    want = None
    if nodes is not None:
        want = np.flatnonzero(nodes >= 0)
        dofs = nodes[want][:, None] * ndof + np.arange(ndof)  # (W, ndof) global DOFs
        pos_in_free = np.full(k.shape[0], -1)
        pos_in_free[fidx] = np.arange(len(fidx))
        rows = pos_in_free[dofs]
        if (rows < 0).any():
            raise SolverError("a condensation node is held")
        unit = np.zeros((len(fidx), ndof))
        unit[rows, np.arange(ndof)[None, :]] = 1.0
        cols.append(unit)
    rhs = np.column_stack(cols)
    out_k = np.zeros((n, patterns.shape[1]))
    out_node = None
    if len(fidx):
        scaled = (sp.diags(scale) @ shifted @ sp.diags(scale)).tocsc()
        lu = spla.splu(scaled)
        sol = scale[:, None] * lu.solve(scale[:, None] * rhs)
    else:
        sol = np.zeros((0, rhs.shape[1]))
    t = patterns.shape[1]
    full = patterns.astype(np.float64).copy()
    full[fidx] = sol[:, :t]
    react = k @ full
    for j in range(t):  # u^T K u: stationary in the free part, so round-off enters squared
        out_k[:, j] = seg_sum(full[:, j] * react[:, j], dof_piece, n)
    if nodes is not None:
        out_node = np.full((n, ndof, ndof), np.nan)
        flex = sol[rows.ravel(), t:].reshape(len(want), ndof, ndof)  # node blocks of K_ff^-1
        # the node's own floor is not in the tangent_stiffness of a test driving it
        out_node[want] = np.linalg.inv(flex) - floor[rows][:, :, None] * np.eye(ndof)
    return out_k, out_node
