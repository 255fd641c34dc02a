"""Equilibrium by minimising the potential: a damped (Levenberg-Marquardt) Newton method.

At prescribed support and grip displacements, the equilibrium of a web is a minimum of its
potential energy over the free DOFs. Each iteration solves

    (K_T + lambda D) du = -r,        D = diag(K_T) (floored),

and accepts the step only if the energy falls by a fair share of what the quadratic
model predicts; ``lambda`` shrinks after good steps (pure Newton, quadratic convergence)
and grows after poor ones. Large ``lambda`` is a short, damped step along the scaled
gradient: the same implicit damped dynamics as pseudo-transient continuation, so slack
threads (zero-stiffness modes), a snap after a member breaks, and, for printed struts,
buckling-like loss of stiffness in compression are passed without diverging. The
minimiser always heads downhill, so it ends at a stable equilibrium.

Linear systems: small ones are factorised each time (SuperLU); large ones are solved by
conjugate gradients preconditioned with the factors of an earlier matrix, refactorised
only when CG needs too many iterations (the tangent changes slowly between iterations
and load steps, so one factorisation serves many solves).
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .members import Members, State
from .solve import free_submatrix, sparse_lu

_DEBUG = bool(os.environ.get("ARANEUS_DEBUG_MIN"))
#: Reduced systems up to this size are factorised at every solve.
REFACTOR_ALWAYS_DOFS = 300
#: A residual this small relative to the largest member force counts as converged when no
#: step can lower the energy any more (round-off at kinks of tension-only laws).
STALL_RTOL = 1e-7
#: CG iterations (preconditioned by older factors) before refactorising.
CG_MAX_ITER = 30


class LinearSolver:
    """Solves ``A x = b`` for a sequence of slowly changing symmetric matrices."""

    def __init__(self) -> None:
        self.lu = None
        self.scale = None
        self.factorisations = 0
        self.cg_iterations = 0

    def _factor(self, a: sp.spmatrix, diag: np.ndarray) -> None:
        s = 1.0 / np.sqrt(diag)
        self.scale = s
        scaled = sp.diags(s) @ a.tocsc() @ sp.diags(s)
        self.lu = sparse_lu(scaled)
        self.factorisations += 1

    def solve(self, a: sp.spmatrix, b: np.ndarray, diag: np.ndarray) -> np.ndarray | None:
        """Solution of ``a x = b`` (``diag``: positive scaling, e.g. the floored diagonal)."""
        try:
            if a.shape[0] <= REFACTOR_ALWAYS_DOFS or self.lu is None:
                self._factor(a, diag)
                return self.scale * self.lu.solve(self.scale * b)
            x = self._pcg(a, b)
            if x is None:
                self._factor(a, diag)
                x = self.scale * self.lu.solve(self.scale * b)
        except RuntimeError:  # singular factorisation
            self.lu = None
            return None
        return x if np.all(np.isfinite(x)) else None

    def _pcg(self, a: sp.spmatrix, b: np.ndarray) -> np.ndarray | None:
        s, lu = self.scale, self.lu
        a = a.tocsr()
        m = spla.LinearOperator(a.shape, matvec=lambda r: s * lu.solve(s * r), dtype=float)
        count = [0]

        def cb(_x):
            count[0] += 1

        x, info = spla.cg(a, b, rtol=1e-10, maxiter=CG_MAX_ITER, M=m, callback=cb)
        self.cg_iterations += count[0]
        return x if info == 0 else None


def minimise(
    members: Members,
    u0: np.ndarray,
    free: np.ndarray,
    tol: float,
    solver: LinearSolver,
    lam: list[float],
    max_iter: int = 80,
    rtol: float = 1e-10,
) -> tuple[State, int] | None:
    """Equilibrium at the prescribed DOFs of ``u0`` (free DOFs ``free``, flat indices).

    Converged when the largest residual force is below ``tol + rtol * N_max`` (``N_max``
    the largest member force). ``lam`` is a one-element list holding the damping, kept
    between calls. Returns the final state and the number of iterations, or None if
    ``max_iter`` iterations did not converge.
    """
    u = u0.copy()
    state = members.evaluate(u)
    lam[0] = min(lam[0], 1e-4)  # a hard previous call says little about this one
    for it in range(max_iter + 1):
        r = state.fint[free]
        rn = float(np.abs(r).max()) if r.size else 0.0
        if not np.isfinite(rn):
            return None
        scale = members.max_force(state)
        if rn <= tol + rtol * scale:
            return state, it
        if it == max_iter:
            return None
        if _DEBUG:
            print(f"it {it} rn {rn:.3e} E {state.energy:.10e} lam {lam[0]:.2e}")
        kff = free_submatrix(state.kt, free, members.ndof)
        diag = kff.diagonal()
        pos_diag = diag[diag > 0]
        floor = 1e-8 * (float(np.median(pos_diag)) if pos_diag.size else 1.0)
        dscale = np.maximum(diag, floor)
        for _ in range(30):
            a = kff + sp.diags(lam[0] * dscale) if lam[0] > 0 else kff
            du = solver.solve(a, -r, dscale + lam[0] * dscale)
            if du is None:
                lam[0] = max(lam[0] * 10.0, 1e-10)
                continue
            pred = -(r @ du + 0.5 * du @ (kff @ du))
            trial_u = u.ravel().copy()
            trial_u[free] += du
            trial = members.evaluate(trial_u.reshape(u.shape))
            actual = state.energy - trial.energy
            rt = float(np.abs(trial.fint[free]).max())
            noise = 1e-11 * max(abs(state.energy), abs(trial.energy), 1e-300)
            good = pred > 0 and actual >= 1e-4 * pred
            if pred > 0 and abs(pred) < noise and rt < rn:
                good = True  # the energy change is below round-off: judge by the residual
            if good:
                ratio = actual / pred if pred > noise else 1.0
                if ratio > 0.75:
                    lam[0] = lam[0] / 10.0 if lam[0] > 1e-12 else 0.0
                elif ratio < 0.25:
                    lam[0] = max(lam[0] * 4.0, 1e-10)
                u, state = trial.u, trial
                break
            lam[0] = max(lam[0] * 10.0, 1e-10)
            if lam[0] > 1e12:
                break
        else:
            lam[0] = 1e13
        if lam[0] > 1e12:
            # no descent left: converged to round-off if the residual is already tiny
            return (state, it) if rn <= tol + STALL_RTOL * scale else None
    return None
