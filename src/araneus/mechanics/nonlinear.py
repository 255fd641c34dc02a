"""Nonlinear, large-displacement truss analysis to final failure (displacement control).

Formulation: total-Lagrangian truss. For a member of reference length L and area A with
current length l, the strain is the engineering (Biot) strain ``eps = l / L - 1``, the
axial force ``N = sigma(eps) A`` (nominal stress) and the consistent tangent

    K_e = (A E_t / L) n n^T + (N / l) (1 - n n^T),     n = current unit direction,

which is exact for arbitrarily large rotations. Silk threads are tension-only (no force
and no stiffness when slack). Optionally (``bending=True``, printed parts with fused
joints) a linear-elastic frame bending/torsion stiffness is added on 6 DOF per node.

Loading is by prescribed displacement of a set of driven nodes along a direction, in
equal steps; each step is solved with Newton iterations (a small Levenberg-Marquardt
shift keeps the iteration matrix invertible when slack threads leave zero-stiffness
modes; convergence is judged on the true residual), with step cutting on divergence.
After each converged step, members whose strain exceeds their failure strain are
deleted and equilibrium is re-established at the same displacement, so the curve shows
the load drops and the load redistribution. Energy is tracked: external work
(trapezoidal integral of the reaction), energy stored in intact members, and energy
dissipated (broken members, plastic work).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from ..errors import InputError, SolverError
from .elements import (
    assemble,
    check_members,
    circular_section,
    frame_element_matrices,
)
from .materials import ElasticPlastic, Material, SilkLaw
from .solve import check_supported, free_submatrix, sparse_lu


@dataclass
class NonlinearResult:
    """Force-displacement history of a displacement-controlled analysis.

    Attributes
    ----------
    displacement
        (S,) prescribed displacement of the driven nodes [mm] (starts with 0).
    force
        (S,) total reaction on the driven nodes along the loading direction [N].
    external_work, stored_energy, dissipated_energy
        (S,) [mJ = N mm]: work done by the driven nodes, energy stored in intact
        members, energy lost by broken members and plastic flow.
    broken_step
        (M,) index into the history at which each member broke, -1 if it never did.
    strain_peak, stress_peak
        (M,) member strain and nominal stress [MPa] at the peak force.
    u
        (N, 3) final node displacements [mm].
    failed
        True if the structure lost all load-bearing capacity before the end.
    stopped
        Empty, or why the analysis ended before ``max_disp`` without failing (with
        ``partial=True``: Newton did not converge, e.g. snap-through); the history holds
        the converged steps.
    """

    displacement: np.ndarray
    force: np.ndarray
    external_work: np.ndarray
    stored_energy: np.ndarray
    dissipated_energy: np.ndarray
    broken_step: np.ndarray
    strain_peak: np.ndarray
    stress_peak: np.ndarray
    u: np.ndarray
    failed: bool
    stopped: str = ""


class _Model:
    """Member data and internal force / tangent evaluation."""

    def __init__(self, pos, edges, law: Material, diameter, bending: bool):
        self.pos, self.edges, self.law = pos, edges, law
        self.vec0 = pos[edges[:, 1]] - pos[edges[:, 0]]
        self.L = np.linalg.norm(self.vec0, axis=1)
        self.A, Iz, J = circular_section(np.broadcast_to(diameter, self.L.shape))
        self.m = len(edges)
        self.alive = np.ones(self.m, bool)
        self.eps_p = np.zeros(self.m)
        self.alpha = np.zeros(self.m)
        self.ndof = 6 if bending else 3
        self.kb = None
        if bending:
            E = np.broadcast_to(law.E, self.L.shape)
            nu = law.nu if isinstance(law, ElasticPlastic) else 0.3
            self.kb = frame_element_matrices(
                pos, edges, E, E / (2 * (1 + nu)), diameter, False
            )  # (M, 12, 12), no axial part

    def response(self, eps):
        if isinstance(self.law, SilkLaw):
            s, t = self.law.stress(eps)
            return s, t, self.eps_p, self.alpha
        return self.law.update(eps, self.eps_p, self.alpha)

    def evaluate(self, u):
        """Internal force (n*ndof,), tangent (BSR), strains, stresses, trial plastic state."""
        e, ndof, n = self.edges, self.ndof, len(self.pos)
        d = self.vec0 + u[e[:, 1], :3] - u[e[:, 0], :3]
        length = np.linalg.norm(d, axis=1)
        nvec = d / length[:, None]
        eps = length / self.L - 1.0
        s, t, ep, al = self.response(eps)
        live = self.alive.astype(float)
        force = s * self.A * live
        fm = force[:, None] * nvec
        fint = np.zeros((n, ndof))
        np.add.at(fint[:, :3], e[:, 1], fm)
        np.add.at(fint[:, :3], e[:, 0], -fm)
        nn = nvec[:, :, None] * nvec[:, None, :]
        kt = (t * self.A / self.L * live)[:, None, None] * nn + (force / length)[:, None, None] * (
            np.eye(3) - nn
        )
        blocks = np.zeros((self.m, 2 * ndof, 2 * ndof))
        blocks[:, :3, :3] = kt
        blocks[:, ndof : ndof + 3, ndof : ndof + 3] = kt
        blocks[:, :3, ndof : ndof + 3] = -kt
        blocks[:, ndof : ndof + 3, :3] = -kt
        if self.kb is not None:
            kb = self.kb * live[:, None, None]
            blocks += kb
            de = u[e].reshape(self.m, 12)
            fb = np.einsum("mij,mj->mi", kb, de).reshape(self.m, 2, 6)
            np.add.at(fint, e[:, 0], fb[:, 0])
            np.add.at(fint, e[:, 1], fb[:, 1])
        return fint.ravel(), assemble(e, blocks, n, ndof), eps, s, ep, al

    def energies(self, u, eps, s, work_axial):
        """Stored energy per member (M,) [mJ] and plastic dissipation per member."""
        vol = self.A * self.L
        if isinstance(self.law, SilkLaw):
            stored = self.law.energy_density(eps) * vol
            plastic = np.zeros(self.m)
        else:
            stored = 0.5 * s**2 / np.broadcast_to(self.law.E, s.shape) * vol
            plastic = work_axial - stored
        if self.kb is not None:
            de = u[self.edges].reshape(self.m, 12)
            stored = stored + 0.5 * np.einsum("mi,mij,mj->m", de, self.kb, de)
        return stored, plastic


def _newton(model: _Model, u0, free, tol, max_iter=40):
    """Equilibrium at fixed prescribed DOFs; returns (u, evaluate-output) or None."""
    u = u0.copy()
    shape = u.shape
    for _ in range(max_iter):
        fint, kt, *rest = model.evaluate(u)
        r = fint[free]
        rn = np.abs(r).max() if r.size else 0.0
        if not np.isfinite(rn):
            return None
        if rn <= tol:
            return u, (fint, kt, *rest)
        kff = free_submatrix(kt, free, model.ndof).tocsc()
        diag = kff.diagonal()
        shift = 1e-9 * max(diag.max(), 1e-300)
        try:
            lu = sparse_lu(kff + sp.identity(kff.shape[0]) * shift)
            du = lu.solve(-r)
        except RuntimeError:
            return None
        # backtracking on the residual norm keeps slack/taut switching from cycling
        flat = u.ravel()
        for alpha in (1.0, 0.5, 0.25, 0.125):
            trial = flat.copy()
            trial[free] += alpha * du
            rt = model.evaluate(trial.reshape(shape))[0][free]
            if np.abs(rt).max() < rn or alpha == 0.125:
                break
        u = trial.reshape(shape)
    return None


def displacement_control(
    pos: np.ndarray,
    edges: np.ndarray,
    law: Material,
    diameter: float | np.ndarray,
    fixed_nodes: np.ndarray,
    driven_nodes: np.ndarray,
    direction: np.ndarray,
    max_disp: float,
    steps: int = 50,
    bending: bool = False,
    stop_ratio: float = 1e-3,
    partial: bool = False,
) -> NonlinearResult:
    """Pull ``driven_nodes`` along ``direction`` up to ``max_disp`` [mm] or final failure.

    Parameters
    ----------
    pos, edges
        (N, 3) reference positions [mm], (M, 2) members.
    law
        Material law (:class:`SilkLaw` or :class:`ElasticPlastic`), scalar or per member.
    diameter
        Strut diameter [mm], scalar or (M,).
    fixed_nodes
        Nodes held fixed (all DOFs).
    driven_nodes
        Nodes moved rigidly by ``t * direction`` (all other DOFs of them held).
    direction
        (3,) loading direction (normalised here); negative values give compression.
    max_disp
        Final prescribed displacement [mm] (> 0).
    steps
        Number of equal displacement steps (>= 2); steps are halved automatically when
        Newton iterations fail.
    bending
        Add linear frame bending stiffness (fused joints, 6 DOF per node).
    stop_ratio
        The analysis ends once, after the peak, the force drops below this fraction of it
        (a "peak" within 1000x the Newton tolerance is round-off of a slack structure).
    partial
        If Newton's method stops converging after at least one converged step, return the
        history so far with ``stopped`` saying why, instead of raising (as FE programs end
        an analysis at the last converged increment).
    """
    pos = np.asarray(pos, float)
    edges = np.asarray(edges, np.int64)
    check_members(pos, edges, diameter)
    direction = np.asarray(direction, float)
    if direction.shape != (3,) or not np.isfinite(direction).all() or not direction.any():
        raise InputError(f"direction must be a non-zero 3-vector, got {direction!r}")
    direction = direction / np.linalg.norm(direction)
    if not (np.isfinite(max_disp) and max_disp > 0):
        raise InputError(f"max displacement must be positive, got {max_disp!r}")
    if int(steps) < 2:
        raise InputError(f"steps must be >= 2, got {steps!r}")
    fixed_nodes = np.unique(np.asarray(fixed_nodes, np.int64))
    driven_nodes = np.unique(np.asarray(driven_nodes, np.int64))
    if np.intersect1d(fixed_nodes, driven_nodes).size:
        raise InputError("supported and loaded regions overlap; choose disjoint regions")
    check_supported(edges, len(pos), np.union1d(fixed_nodes, driven_nodes))
    model = _Model(pos, edges, law, diameter, bending)
    n, ndof = len(pos), model.ndof
    fixed = np.zeros((n, ndof), bool)
    fixed[fixed_nodes] = True
    fixed[driven_nodes] = True
    isolated = np.ones(n, bool)
    isolated[edges.ravel()] = False
    fixed[isolated] = True
    free = np.flatnonzero(~fixed.ravel())
    ea_max = float((np.broadcast_to(law.E, model.L.shape) * model.A).max())
    tol0 = 1e-9 * ea_max

    u = np.zeros((n, ndof))
    du_prev = np.zeros_like(u)
    work_axial = np.zeros(model.m)
    eps_old = np.zeros(model.m)
    s_old = np.zeros(model.m)
    broken_step = np.full(model.m, -1)
    broken_energy = np.zeros(model.m)
    released = [0.0]  # energy released dynamically at member failures [mJ]
    hist = {"d": [0.0], "f": [0.0], "w": [0.0], "st": [0.0], "di": [0.0]}
    peak, peak_state = 0.0, (np.zeros(model.m), np.zeros(model.m))
    t, dt, failed = 0.0, max_disp / int(steps), False
    min_dt = dt / 256

    def reaction(fint):
        return float(fint.reshape(n, ndof)[driven_nodes, :3].sum(axis=0) @ direction)

    def record(t_now, u_now, out):
        nonlocal peak, peak_state, eps_old, s_old
        fint, _, eps, s, ep, al = out
        f = reaction(fint)
        work_axial[:] += 0.5 * (s + s_old) * (eps - eps_old) * model.A * model.L * model.alive
        stored, plastic = model.energies(u_now, eps, s, work_axial)
        w = hist["w"][-1] + 0.5 * (f + hist["f"][-1]) * (t_now - hist["d"][-1])
        hist["d"].append(t_now)
        hist["f"].append(f)
        hist["w"].append(w)
        hist["st"].append(float(stored[model.alive].sum()))
        hist["di"].append(float(broken_energy.sum() + plastic[model.alive].sum()) + released[0])
        eps_old, s_old = eps, s
        model.eps_p, model.alpha = ep, al
        if f > peak:
            peak, peak_state = f, (eps.copy(), s.copy())
        return f, stored, plastic

    stopped = ""
    while t < max_disp * (1 - 1e-12) and not failed:
        step = min(dt, max_disp - t)
        guess = u + du_prev * (step / dt if dt else 0.0)
        guess[driven_nodes, :3] = (t + step) * direction
        tol = tol0 + 1e-8 * max(abs(peak), 1e-300)
        sol = _newton(model, guess, free, tol)
        if sol is None:
            if dt / 2 < min_dt:
                msg = (
                    f"Newton iterations did not converge at displacement {t + step:.4g} mm even "
                    "with 256x smaller steps (unstable structure or snap-through)"
                )
                if partial and len(hist["d"]) > 1:
                    stopped = msg
                    break
                raise SolverError(msg)
            dt /= 2
            continue
        u_new, out = sol
        du_prev = (u_new - u) * (dt / step)
        u, t = u_new, t + step
        f, stored, plastic = record(t, u, out)
        while True:  # member deletion and re-equilibration at the same displacement
            eps = out[2]
            newly = model.alive & (np.abs(eps) > np.broadcast_to(model.law.eps_f, eps.shape))
            if not newly.any():
                break
            e_before = hist["st"][-1] + hist["di"][-1]
            model.alive &= ~newly
            broken_step[newly] = len(hist["d"]) - 1
            broken_energy[newly] = stored[newly] + plastic[newly]
            if not model.alive.any() or not _connected(
                edges[model.alive], n, fixed_nodes, driven_nodes
            ):
                _append_failure_point(hist, t, broken_energy, model, stored, plastic)
                failed = True
                break
            sol = _newton(model, u, free, tol)
            if sol is None:
                raise SolverError(f"no equilibrium after member failure at {t:.4g} mm")
            u, out = sol
            f, stored, plastic = record(t, u, out)
            # energy released while the rest of the structure snaps back is dissipated
            gap = e_before - hist["st"][-1] - hist["di"][-1]
            released[0] += gap
            hist["di"][-1] += gap
        # a peak within the solver tolerance is round-off of a still slack structure
        if not failed and peak > 1e3 * tol0 and hist["f"][-1] < stop_ratio * peak:
            failed = True
    return NonlinearResult(
        displacement=np.array(hist["d"]),
        force=np.array(hist["f"]),
        external_work=np.array(hist["w"]),
        stored_energy=np.array(hist["st"]),
        dissipated_energy=np.array(hist["di"]),
        broken_step=broken_step,
        strain_peak=peak_state[0],
        stress_peak=peak_state[1],
        u=u[:, :3].copy(),
        failed=failed,
        stopped=stopped,
    )


def _append_failure_point(hist, t, broken_energy, model, stored, plastic) -> None:  # noqa: ARG001
    """Record the final state of a structure that has fallen apart (zero force)."""
    hist["d"].append(t)
    hist["f"].append(0.0)
    hist["w"].append(hist["w"][-1])
    hist["st"].append(float(stored[model.alive].sum()))
    hist["di"].append(hist["w"][-1] - hist["st"][-1])


def _connected(edges: np.ndarray, n: int, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether any node of set ``a`` is still connected to any node of set ``b``."""
    adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = csgraph.connected_components(adj, directed=False)
    return bool(np.intersect1d(labels[a], labels[b]).size)
