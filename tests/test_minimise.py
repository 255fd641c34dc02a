"""The large-system solver path of the energy minimiser (issue 18, speed): conjugate
gradients preconditioned by earlier factors, with inexact-Newton forcing terms. It must
reach the same equilibria as the exact (factorise-every-iteration) path."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from araneus.mechanics import minimise as mn
from araneus.mechanics.validation import damage_localisation, ideal_orb


def _spd(n: int, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    a = sp.random(n, n, density=0.02, random_state=rng)
    return (a @ a.T + sp.eye(n)).tocsr()


def test_pcg_with_earlier_factors_meets_its_tolerance():
    a = _spd(400, 0)
    b = np.random.default_rng(1).normal(size=400)
    solver = mn.LinearSolver()
    solver._factor(a, a.diagonal())  # factors of the unperturbed matrix
    a2 = (a + 0.05 * sp.diags(a.diagonal())).tocsr()  # the "next tangent"
    for rtol in (1e-2, 1e-10):
        x = solver._pcg(a2, b, rtol)
        assert x is not None
        assert np.linalg.norm(a2 @ x - b) <= rtol * np.linalg.norm(b)
    # exact to round-off at a tight tolerance, and a loose one does less work
    np.testing.assert_allclose(solver._pcg(a2, b, 1e-12), sp.linalg.spsolve(a2.tocsc(), b),
                               rtol=1e-9, atol=1e-12)  # fmt: skip


def test_pcg_gives_up_on_a_bad_preconditioner_and_on_indefinite_matrices():
    a = _spd(400, 2)
    b = np.random.default_rng(3).normal(size=400)
    solver = mn.LinearSolver()
    solver._factor(sp.eye(400).tocsc(), np.ones(400))  # a useless preconditioner
    far = (a + 50.0 * sp.random(400, 400, density=0.05, random_state=4)).tocsr()
    far = (far + far.T) / 2
    assert solver._pcg(far, b, 1e-12) is None
    assert solver._pcg(-a, b, 1e-6) is None  # negative curvature: refactorise instead
    assert solver.cg_failures == 2


def test_forcing_terms_tighten_as_newton_converges():
    r = np.ones(10)
    assert mn._forcing(0.1, 1.0, 0.0, 0.0, r) == mn.ETA_MAX  # first iteration
    fast = mn._forcing(mn.ETA_MAX, 1e-4, 1.0, 0.0, r)  # quadratic convergence
    assert fast < 1e-6
    # a slow phase keeps a loose tolerance; it never goes below what the test can see
    assert mn._forcing(mn.ETA_MAX, 0.9, 1.0, 0.0, r) == mn.ETA_MAX
    assert mn._forcing(1e-9, 1e-8, 1.0, 1e-3, r) == pytest.approx(0.5e-3 / np.sqrt(10))


def test_reused_factorisations_reach_the_same_equilibria_as_full_newton(monkeypatch):
    """An orb pulled to final failure, once with a factorisation per Newton iteration and
    once through the CG path with reused factors and inexact directions: same curve,
    same failure sequence, energy balance within 0.5%."""
    web = ideal_orb(n_radials=8, n_rings=4)
    exact = damage_localisation(web)[0].curve
    monkeypatch.setattr(mn, "REFACTOR_ALWAYS_DOFS", 0)
    reused = damage_localisation(web)[0].curve
    assert reused.factorisations < exact.factorisations
    assert exact.failed and reused.failed
    np.testing.assert_array_equal(reused.broken_step >= 0, exact.broken_step >= 0)
    order = np.argsort(exact.broken_step[exact.broken_step >= 0], kind="stable")
    order_r = np.argsort(reused.broken_step[reused.broken_step >= 0], kind="stable")
    np.testing.assert_array_equal(order, order_r)
    assert reused.force.max() == pytest.approx(exact.force.max(), rel=1e-6)
    n = min(len(exact.force), len(reused.force))
    np.testing.assert_allclose(reused.displacement[:n], exact.displacement[:n], rtol=1e-6)
    np.testing.assert_allclose(reused.force[:n], exact.force[:n], rtol=1e-5,
                               atol=1e-6 * exact.force.max())  # fmt: skip
    balance = reused.stored_energy + reused.dissipated_energy
    scale = np.abs(reused.external_work).max()
    assert np.abs(balance - reused.external_work).max() <= 5e-3 * scale
