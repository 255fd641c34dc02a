"""Members of a nonlinear truss/frame: strains, forces, energy and tangent at a displacement.

Total-Lagrangian bars. A member of rest (stress-free) length ``L0``, area ``A`` and current
length ``l`` has the engineering strain ``eps = l / L0 - 1``, the axial force
``N = A sigma(eps)`` and the energy ``A L0 W(eps)``; its tangent

    K_e = (A E_t / L0) n n^T + (N / l) (1 - n n^T),      n = current unit direction,

is exact for arbitrarily large rotations (the second term is the geometric, or
prestress, stiffness that keeps a taut thread stable sideways). Silk threads are
tension-only (no force and no stiffness when slack). Printed struts (``bending=True``)
add a linear frame bending/torsion stiffness on 6 DOF per node (fused joints).

The total potential ``sum A L0 W(eps) + u^T K_b u / 2`` is what a load step minimises;
for the silk law (monotone, tension-only) it is a convex function of the displacements,
and for elastic-plastic laws the incremental potential of the return mapping plays its
part (:meth:`araneus.mechanics.materials.ElasticPlastic.increment`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .elements import assemble, circular_section, frame_element_matrices
from .materials import ElasticPlastic, Material, SilkLaw


@dataclass
class State:
    """Everything evaluated at one displacement (arrays over members unless noted)."""

    fint: np.ndarray  # (n * ndof,) internal force
    energy: float  # potential [mJ]
    eps: np.ndarray
    stress: np.ndarray
    eps_p: np.ndarray  # trial plastic state of the step
    alpha: np.ndarray
    plastic_work: np.ndarray  # (M,) plastic work of the step [mJ]
    u: np.ndarray  # (n, ndof)
    kt: sp.bsr_matrix | None = None
    nvec: np.ndarray | None = None  # (M, 3) current member directions


class Members:
    """Member data and evaluation of energy, internal force and tangent."""

    def __init__(self, pos, edges, law: Material, diameter, rest_length, bending: bool):
        self.pos = np.asarray(pos, np.float64)
        self.edges = np.asarray(edges, np.int64)
        self.law = law
        self.vec0 = self.pos[self.edges[:, 1]] - self.pos[self.edges[:, 0]]
        self.L0 = np.asarray(rest_length, np.float64)
        self.m = len(self.edges)
        self.diameter = np.broadcast_to(np.asarray(diameter, np.float64), (self.m,))
        self.A, self.inertia, _ = circular_section(self.diameter)
        self.vol = self.A * self.L0
        self.alive = np.ones(self.m, bool)
        self.fade = np.ones(self.m)  # < 1 while a broken member's force is released
        self.eps_p = np.zeros(self.m)
        self.alpha = np.zeros(self.m)
        self.eps_f = np.broadcast_to(np.asarray(law.eps_f, np.float64), (self.m,))
        self.tension_only = bool(law.tension_only)
        self.ndof = 6 if bending else 3
        self.kb = None
        if bending:
            E = np.broadcast_to(law.E, (self.m,))
            nu = law.nu if isinstance(law, ElasticPlastic) else 0.3
            self.kb = frame_element_matrices(pos, edges, E, E / (2 * (1 + nu)), diameter, False)

    def _law(self, eps):
        """Stress, tangent, plastic state, energy density and plastic work density."""
        if isinstance(self.law, SilkLaw):
            s, t = self.law.stress(eps)
            w = self.law.energy_density(eps)
            return s, t, self.eps_p, self.alpha, w, np.zeros(self.m)
        return self.law.increment(eps, self.eps_p, self.alpha)

    def evaluate(self, u: np.ndarray, tangent: bool = True) -> State:
        """State at displacement ``u`` (n, ndof) relative to the committed plastic state."""
        e, ndof, n = self.edges, self.ndof, len(self.pos)
        d = self.vec0 + u[e[:, 1], :3] - u[e[:, 0], :3]
        length = np.linalg.norm(d, axis=1)
        nvec = d / np.maximum(length, 1e-300)[:, None]
        eps = length / self.L0 - 1.0
        s, t, ep, al, w, wp = self._law(eps)
        live = self.alive * self.fade
        force = s * self.A * live
        fm = force[:, None] * nvec
        fint = np.zeros((n, ndof))
        np.add.at(fint[:, :3], e[:, 1], fm)
        np.add.at(fint[:, :3], e[:, 0], -fm)
        energy = float((w * self.vol * live).sum())
        kb = None
        if self.kb is not None:
            kb = self.kb * live[:, None, None]
            de = u[e].reshape(self.m, 12)
            fb = np.einsum("mij,mj->mi", kb, de)
            energy += 0.5 * float(np.einsum("mi,mi->", de, fb))
            fb = fb.reshape(self.m, 2, 6)
            np.add.at(fint, e[:, 0], fb[:, 0])
            np.add.at(fint, e[:, 1], fb[:, 1])
        kt = None
        if tangent:
            nn = nvec[:, :, None] * nvec[:, None, :]
            geo = np.where(length > 0, force / np.maximum(length, 1e-300), 0.0)
            k3 = (t * self.A / self.L0 * live)[:, None, None] * nn + geo[:, None, None] * (
                np.eye(3) - nn
            )
            kt = self._assemble(k3, kb)
        return State(fint.ravel(), energy, eps, s, ep, al, wp * self.vol * live, u, kt, nvec)

    def _assemble(self, k3: np.ndarray, kb: np.ndarray | None = None) -> sp.bsr_matrix:
        """Global matrix of per-member 3x3 translational blocks (plus frame blocks)."""
        ndof = self.ndof
        blocks = np.zeros((self.m, 2 * ndof, 2 * ndof))
        blocks[:, :3, :3] = k3
        blocks[:, ndof : ndof + 3, ndof : ndof + 3] = k3
        blocks[:, :3, ndof : ndof + 3] = -k3
        blocks[:, ndof : ndof + 3, :3] = -k3
        if kb is not None:
            blocks += kb
        return assemble(self.edges, blocks, len(self.pos), ndof)

    def slack_stiffness(self, state: State) -> sp.bsr_matrix:
        """Axial stiffness ``E A / L0`` of the live slack threads as a global matrix:
        added to the tangent, it gives a quadratic model that bounds the energy of
        tension-only threads from above (a thread that comes taut cannot cost more than
        a two-sided spring), for a safe step where the exact tangent's step overshoots."""
        slack = self.alive & (state.stress <= 0) if self.tension_only else np.zeros(self.m, bool)
        e0 = np.broadcast_to(np.asarray(self.law.E, np.float64), (self.m,))
        k = np.where(slack, e0 * self.A / self.L0, 0.0)
        nn = state.nvec[:, :, None] * state.nvec[:, None, :]
        return self._assemble(k[:, None, None] * nn)

    def stored_energy(self, state: State) -> np.ndarray:
        """Recoverable energy per member [mJ] at ``state`` (0 for broken members)."""
        stored = self.law.elastic_energy(state.eps, state.stress) * self.vol
        if self.kb is not None:
            de = state.u[self.edges].reshape(self.m, 12)
            stored = stored + 0.5 * np.einsum("mi,mij,mj->m", de, self.kb, de)
        return stored * self.alive

    def max_force(self, state: State) -> float:
        """Largest axial force magnitude among live members [N]."""
        f = np.abs(state.stress) * self.A
        return float(f[self.alive].max(initial=0.0))

    def commit(self, state: State) -> None:
        """Make the plastic state of ``state`` the committed one."""
        self.eps_p, self.alpha = state.eps_p, state.alpha

    def failing(self, state: State) -> np.ndarray:
        """(M,) ratio of each live member's largest fibre strain to its failure strain (0
        if broken): the axial strain, plus for frame struts the bending strain
        ``M r / (E I)`` of the larger end moment."""
        eps = state.eps if self.tension_only else np.abs(state.eps)
        if self.kb is not None:
            eps = eps + self.bending_strain(state)
        return np.where(self.alive, eps / self.eps_f, 0.0)

    def bending_strain(self, state: State) -> np.ndarray:
        """(M,) outer-fibre bending strain of frame struts.

        Co-rotational: the rigid rotation of each member's chord (from its first to its
        current direction) is taken off the end rotations before the Euler-Bernoulli end
        moments ``(2 E I / L) (2 a_i + a_j)`` are formed, so a strut that only swings
        round carries no bending strain however far it turns."""
        n0 = self.vec0 / np.linalg.norm(self.vec0, axis=1, keepdims=True)
        n = state.nvec
        axis = np.cross(n0, n)
        sin = np.linalg.norm(axis, axis=1)
        angle = np.arctan2(sin, np.einsum("ij,ij->i", n0, n))
        chord = axis * np.where(sin > 0, angle / np.maximum(sin, 1e-300), 0.0)[:, None]
        rot = state.u[self.edges][:, :, 3:6] - chord[:, None, :]  # (M, 2, 3) elastic
        rot = rot - np.einsum("mkj,mj->mk", rot, n)[:, :, None] * n[:, None, :]  # bending
        length = np.linalg.norm(self.vec0, axis=1)
        m_i = np.linalg.norm(2 * rot[:, 0] + rot[:, 1], axis=1)
        m_j = np.linalg.norm(rot[:, 0] + 2 * rot[:, 1], axis=1)
        # M = (2 E I / L) |2 a_i + a_j|; strain = M r / (E I) = (2 r / L) |...|
        return np.maximum(m_i, m_j) * self.diameter / length
