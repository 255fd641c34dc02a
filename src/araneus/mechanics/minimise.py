"""Equilibrium by minimising the potential: damped Newton directions with a line search.

At prescribed support and grip displacements, the equilibrium of a web is a minimum of its
potential energy over the free DOFs. Each iteration solves

    (K_T + lambda D) du = -r,        D = diag(K_T) (floored),

with ``lambda`` tiny (1e-13) unless the direction is not downhill or the line search
had to cut the step below a quarter (then it grows, as a Levenberg-Marquardt trust
region would: a nearly slack net stiffens far faster under a transverse move than its
geometric stiffness says), and takes the step ``alpha du`` that lowers the energy
(Armijo backtracking line search). Near a minimum ``alpha = 1`` is taken: pure Newton,
quadratic convergence. Far from it (a slack thread pulled taut, a snap after a
member breaks, and, for printed struts, buckling-like loss of stiffness in compression)
the line search keeps the energy falling, so the minimiser never diverges and ends at a
stable equilibrium.

Linear systems: small ones are factorised each time (SuperLU); large ones are solved by
conjugate gradients preconditioned with the factors of an earlier matrix, refactorised
only when CG needs too many iterations (the tangent changes slowly between iterations
and load steps, so one factorisation serves many solves). The CG solve is inexact
Newton (Eisenstat & Walker 1996, "choice 2"): the direction only needs the linear
residual below ``eta |r|``, with ``eta`` at its cap (:data:`ETA_MAX`) while the nonlinear
residual falls slowly and tightening quadratically as Newton converges; CG gives up
early (and the new tangent is factorised) when its rate shows it would not converge in
:data:`CG_MAX_ITER` iterations. The equilibrium is still the one the residual tolerance
defines, only fewer factorisations reach it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .members import Members, State
from .solve import free_submatrix, sparse_lu

#: Reduced systems up to this size are factorised at every solve.
REFACTOR_ALWAYS_DOFS = 6000
#: Smallest damping: never zero, so that DOFs without stiffness stay put.
LAM_MIN = 1e-13
#: A residual this small relative to the largest member force counts as converged when no
#: step can lower the energy any more (round-off at kinks of tension-only laws, flat
#: energy of soft frames): the tolerance 30 iterations would reach anyway
#: (:func:`_relative_tolerance`), invisible on a force-displacement curve.
STALL_RTOL = 1e-4
#: Relative round-off of internal forces (a residual below this times the largest
#: diagonal stiffness times the largest displacement is numerically zero).
ROUNDOFF = 1e-13
#: CG iterations (preconditioned by older factors) before refactorising.
CG_MAX_ITER = 30
#: Largest and smallest forcing term of the inexact Newton solves (relative linear
#: residual of a direction, large systems only). Eisenstat & Walker use up to 0.9; on the
#: default tent web (46k DOF) directions that loose cost more Newton iterations than
#: they save: grips reached 0.63 / 1.35 / 1.52 / 1.66% strain in 60 s with a cap of 0.5
#: / 1e-2 / 0.1 / 1e-3 (2-core machine under load; the exact solve: 0.6%).
ETA_MAX = 1e-3
ETA_MIN = 1e-10


class LinearSolver:
    """Solves ``A x = b`` for a sequence of slowly changing symmetric matrices."""

    def __init__(self) -> None:
        self.lu = None
        self.scale = None
        self.perm: np.ndarray | None = None
        self.factorisations = 0
        self.cg_iterations = 0
        self.cg_failures = 0

    def _factor(self, a: sp.spmatrix, diag: np.ndarray) -> None:
        s = 1.0 / np.sqrt(diag)
        self.scale = s
        scaled = sp.diags(s) @ a.tocsc() @ sp.diags(s)
        self.factorisations += 1
        perm = self.perm
        if perm is not None and len(perm) == scaled.shape[0]:
            # the sparsity pattern of a run's tangents only loses entries (members die):
            # the fill-reducing ordering of the first factorisation serves them all
            try:
                self.lu = _PermutedLU(perm, scaled)
                return
            except RuntimeError:  # a zero diagonal pivot: order afresh
                pass
        lu = sparse_lu(scaled)
        self.perm = np.argsort(lu.perm_r) if _diagonal_pivots(lu) else None
        self.lu = lu

    def solve(
        self, a: sp.spmatrix, b: np.ndarray, diag: np.ndarray, rtol: float = ETA_MIN
    ) -> np.ndarray | None:
        """Solution of ``a x = b`` (``diag``: positive scaling, e.g. the floored diagonal).

        Large systems are solved by CG preconditioned with earlier factors, to the
        relative residual ``rtol`` (an inexact Newton direction when ``rtol`` is large);
        small systems and refactorisations are solved exactly."""
        try:
            if a.shape[0] <= REFACTOR_ALWAYS_DOFS or self.lu is None:
                self._factor(a, diag)
                return self.scale * self.lu.solve(self.scale * b)
            x = self._pcg(a, b, rtol)
            if x is None:
                self._factor(a, diag)
                x = self.scale * self.lu.solve(self.scale * b)
        except RuntimeError:  # singular factorisation
            self.lu = None
            return None
        return x if np.all(np.isfinite(x)) else None

    def _pcg(self, a: sp.spmatrix, b: np.ndarray, rtol: float) -> np.ndarray | None:
        """Preconditioned CG to the relative residual ``rtol``; None (refactorise) if it
        would need more than :data:`CG_MAX_ITER` iterations (judged from its rate after
        a few) or the matrix is not positive definite along a search direction."""
        s, lu = self.scale, self.lu
        a = a.tocsr()
        x = np.zeros_like(b)
        r = b.copy()
        bn = float(np.linalg.norm(b))
        if bn == 0.0:
            return x
        target = rtol * bn
        z = s * lu.solve(s * r)
        p = z.copy()
        rz = float(r @ z)
        for k in range(1, CG_MAX_ITER + 1):
            ap = a @ p
            pap = float(p @ ap)
            if not pap > 0.0:
                break
            step = rz / pap
            x += step * p
            r -= step * ap
            self.cg_iterations += 1
            rn = float(np.linalg.norm(r))
            if rn <= target:
                return x
            rate = (rn / bn) ** (1.0 / k)
            late = k + np.log(target / rn) / np.log(rate) > CG_MAX_ITER if rate < 1.0 else True
            if k >= 4 and late:
                break  # too slow to converge in time: a fresh factorisation is cheaper
            z = s * lu.solve(s * r)
            rz_new = float(r @ z)
            p = z + (rz_new / rz) * p
            rz = rz_new
        self.cg_failures += 1
        return None


class _PermutedLU:
    """SuperLU factors of ``a`` symmetrically permuted by ``perm`` (given ordering)."""

    def __init__(self, perm: np.ndarray, a: sp.spmatrix) -> None:
        self.perm = perm
        self.lu = spla.splu(
            a[perm][:, perm].tocsc(),
            permc_spec="NATURAL",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )

    def solve(self, b: np.ndarray) -> np.ndarray:
        x = np.empty_like(b)
        x[self.perm] = self.lu.solve(b[self.perm])
        return x


def _diagonal_pivots(lu: spla.SuperLU) -> bool:
    """Whether SuperLU pivoted on the diagonal (row and column orders agree)."""
    return bool(np.array_equal(lu.perm_r, lu.perm_c))


def minimise(
    members: Members,
    u0: np.ndarray,
    free: np.ndarray,
    tol: float,
    solver: LinearSolver,
    lam: list[float],
    max_iter: int = 100,
    rtol: float = 1e-10,
) -> tuple[State, int] | None:
    """Equilibrium at the prescribed DOFs of ``u0`` (free DOFs ``free``, flat indices).

    Each iteration takes the (slightly damped) Newton direction and a line search on the
    energy along it: the step is cut back where it would overshoot (a slack thread
    pulled taut, a swinging strand) and the energy always falls. Where the tangent is
    not positive definite (struts in compression), the damping grows until the direction
    goes downhill. Converged when the largest residual force is below ``tol + rtol *
    N_max`` (``N_max`` the largest member force; see :func:`_relative_tolerance`).
    ``lam`` is a one-element list holding the damping, kept between calls. Returns the
    final state and the number of iterations, or None if ``max_iter`` iterations did not
    converge.
    """
    u = u0.copy()
    state = members.evaluate(u)
    lam[0] = min(max(lam[0], LAM_MIN), 1e-4)  # a hard previous call says little here
    kmax = float(np.abs(state.kt.diagonal()).max(initial=0.0))
    eta, rn_prev = ETA_MAX, 0.0
    for it in range(max_iter + 1):
        r = state.fint[free]
        rn = float(np.abs(r).max()) if r.size else 0.0
        if not np.isfinite(rn):
            return None
        # forces are sums of terms up to (stiffness x displacement): their round-off is a
        # floor no residual can go below
        tol_it = tol + ROUNDOFF * kmax * float(np.abs(state.u).max(initial=0.0))
        scale = members.max_force(state)
        if rn <= tol_it + _relative_tolerance(it, rtol) * scale:
            return state, it
        if it == max_iter:
            return None
        eta = _forcing(eta, rn, rn_prev, tol_it + _relative_tolerance(it, rtol) * scale, r)
        rn_prev = rn
        du = _direction(members, state, free, r, solver, lam, eta)
        if du is None:
            return (state, it) if rn <= tol_it + STALL_RTOL * scale else None
        trial, alpha = _line_search(members, state, free, r, du)
        if trial is None:
            lam[0] = min(lam[0] * 100.0, 1e12)
            if lam[0] >= 1e12:
                return (state, it) if rn <= tol_it + STALL_RTOL * scale else None
            continue
        if alpha >= 0.5 and trial.energy < state.energy - 1e-12 * abs(state.energy):
            lam[0] = max(lam[0] / 10.0, LAM_MIN)
        elif alpha < 0.25:
            # the quadratic model overshot (a thread pulled taut by a transverse move
            # stiffens far faster than its geometric stiffness says): damp more, as a
            # Levenberg-Marquardt trust region would
            lam[0] = min(max(lam[0] * 10.0, 1e-8), 1e10)
        state = trial
    return None


def _forcing(eta: float, rn: float, rn_prev: float, target: float, r: np.ndarray) -> float:
    """Forcing term of the next inexact Newton direction (Eisenstat & Walker 1996,
    choice 2 with their safeguard): ``0.9 (|r_k| / |r_k-1|)^2``, not below ``0.9
    eta_k-1^2`` while that is above 0.1, at most :data:`ETA_MAX`, and no tighter than
    half the residual tolerance ``target`` needs (a linear residual below it is
    invisible to the convergence test)."""
    if rn_prev <= 0.0:
        return ETA_MAX
    new = 0.9 * (rn / rn_prev) ** 2
    guard = 0.9 * eta**2
    if guard > 0.1:
        new = max(new, guard)
    floor = 0.5 * target / max(float(np.linalg.norm(r)), 1e-300)
    return float(np.clip(max(new, floor), ETA_MIN, ETA_MAX))


def _direction(members, state, free, r, solver, lam, eta=ETA_MIN) -> np.ndarray | None:
    """Damped Newton direction ``-(K + lam D)^-1 r``, made a descent direction by
    raising ``lam`` when needed; None if none is found. ``D`` is the diagonal of the
    tangent with slack threads counted at their axial stiffness: damping in the scale of
    the stiffness a move may meet, also where the tangent is (nearly) zero."""
    kff = free_submatrix(state.kt, free, members.ndof)
    diag = kff.diagonal()
    if members.tension_only:
        diag = diag + free_submatrix(members.slack_stiffness(state), free, members.ndof).diagonal()
    pos_diag = diag[diag > 0]
    typical = float(np.median(pos_diag)) if pos_diag.size else 1.0
    # DOFs with (almost) no stiffness (nodes held only by slack threads) carry no force
    # either: damping them like a typical DOF keeps them where they are
    dscale = np.where(diag > 1e-6 * typical, diag, typical)
    while lam[0] < 1e12:
        a = kff + sp.diags(lam[0] * dscale)
        du = solver.solve(a, -r, dscale + lam[0] * dscale, eta)
        # a descent direction along which the energy curves upwards (near a saddle, the
        # plain Newton direction heads for it: damp until it heads for a minimum)
        if du is not None and r @ du < 0 and du @ (kff @ du) > 0:
            return du
        lam[0] = max(lam[0] * 100.0, 1e-8)
    return None


def _line_search(members, state, free, r, du, max_tries: int = 30) -> tuple[State | None, float]:
    """A step ``alpha du`` lowering the energy (Armijo), backtracking by safeguarded
    quadratic interpolation from ``alpha = 1``: ``(state, alpha)``, or ``(None, 0)``
    if none is found."""
    slope = float(r @ du)  # directional derivative of the energy at alpha = 0 (< 0)
    e0 = state.energy
    noise = 1e-12 * max(abs(e0), 1e-300)
    base = state.u.ravel()
    alpha = 1.0
    rn = float(np.abs(r).max())
    for _ in range(max_tries):
        trial_u = base.copy()
        trial_u[free] += alpha * du
        trial = members.evaluate(trial_u.reshape(state.u.shape))
        de = trial.energy - e0
        if de <= 1e-4 * alpha * slope or (
            abs(de) <= noise and float(np.abs(trial.fint[free]).max()) < rn
        ):
            return trial, alpha
        # minimiser of the quadratic through e(0), e'(0) and e(alpha)
        denom = 2.0 * (de - slope * alpha)
        new = -slope * alpha**2 / denom if denom > 0 else 0.1 * alpha
        alpha = float(np.clip(new, 0.05 * alpha, 0.5 * alpha))
    return None, 0.0


def _relative_tolerance(iteration: int, rtol: float) -> float:
    """Residual tolerance relative to the largest member force after ``iteration``
    iterations. Newton's method meets ``rtol`` in a few iterations wherever the
    equilibrium is well defined; parts that hang neutrally (threads at the point of
    going slack, nearly free strands) converge only linearly, and for them a residual
    of ``1e-6`` (after 12 iterations), ``1e-4`` (after 30) or ``1e-3`` (after 50) of the
    largest member force is accepted: below what a force-displacement curve can show."""
    if iteration >= 50:
        return max(rtol, 1e-3)
    if iteration >= 30:
        return max(rtol, 1e-4)
    if iteration >= 12:
        return max(rtol, 1e-6)
    return rtol
