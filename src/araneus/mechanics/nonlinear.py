"""Nonlinear, large-displacement truss analysis to final failure (displacement control).

Members (:mod:`.members`) are total-Lagrangian bars with exact large-rotation kinematics and
the geometric (prestress) stiffness in the tangent; silk threads are tension-only, and a
pretensioned web (:mod:`.prestress`) starts from the rest lengths of its self-stress state,
so it is stable from the first step. Printed struts (``bending=True``) add linear frame
bending and torsion (fused joints).

Path following: the driven nodes are moved along a direction in adaptive increments; at
each increment the equilibrium is the minimum of the potential over the free DOFs
(:func:`.minimise.minimise`, a damped Newton method). For tension-only threads with the
monotone silk law that potential is convex in the displacements, so every increment has
one equilibrium, reached from any start: slack states, threads coming taut and member
deletion need no special path-following (no arc length), and since the grip displacement
is prescribed, a falling load is followed as well. Increments grow where the members
strain little (slack phases) and shrink where they strain fast; an increment that would
carry a member past its failure strain is cut back so that the first member breaks at
(just over) its failure strain, which keeps peak forces exact. After each increment,
members past their failure strain are deleted and equilibrium is re-established at the
same displacement (vertical drops in the curve, load redistribution).

Energy: external work (trapezoid of the reaction), energy stored in intact members since
the start (the prestress energy is the zero), and energy dissipated: plastic work,
energy of broken members, and energy released while the rest snaps back after a
failure; ``external work = stored + dissipated``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from ..errors import InputError, SolverError
from .elements import check_members
from .materials import Material
from .members import Members, State
from .minimise import LinearSolver, minimise
from .solve import check_supported, free_submatrix

#: A member may overshoot its failure strain by this fraction before the increment is cut.
OVERSHOOT = 1e-3
#: An analysis stops (saying so) after this many displacement increments per requested step.
MAX_POINTS_PER_STEP = 40
#: An increment that needed more Newton iterations than this is not followed by a larger one.
SLOW_ITERS = 40
#: Largest strain change of a loaded member per increment, as a fraction of its failure
#: strain.
STRAIN_STEP = 1.0 / 40


@dataclass
class NonlinearResult:
    """Force-displacement history of a displacement-controlled analysis.

    Attributes
    ----------
    displacement
        (S,) prescribed displacement of the driven nodes [mm] (starts with 0).
    force
        (S,) total reaction on the driven nodes along the loading direction [N]; with a
        prestress it starts at the force the grips need to hold the pretensioned web.
    external_work, stored_energy, dissipated_energy
        (S,) [mJ = N mm]: work done by the driven nodes; strain energy of the intact
        members minus that of the (prestressed) start, so ``external_work =
        stored_energy + dissipated_energy``; energy lost by broken members (their
        prestress energy included), snap-back and plastic flow.
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
        ``partial=True``: no equilibrium found); the history holds the converged steps.
    stiffness
        Initial tangent stiffness along the loading direction [N/mm] (exact, from the
        tangent at the start, prestress included).
    prestress_energy
        Strain energy at the start [mJ] (the prestress).
    iterations, factorisations
        Newton iterations and sparse factorisations used (cost figures).
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
    stiffness: float = float("nan")
    prestress_energy: float = 0.0
    iterations: int = 0
    factorisations: int = 0


class _History:
    """Recorded points of the curve and the energy bookkeeping."""

    def __init__(self, members: Members, driven: np.ndarray, direction: np.ndarray):
        self.members, self.driven, self.direction = members, driven, direction
        self.d: list[float] = []
        self.f: list[float] = []
        self.w: list[float] = []
        self.st: list[float] = []
        self.di: list[float] = []
        self.plastic = 0.0
        self.broken = 0.0
        self.released = 0.0
        self.peak = -np.inf
        self.peak_state: State | None = None
        self.peak_index = 0
        self.prestress_energy = 0.0

    def reaction(self, state: State) -> float:
        ndof = self.members.ndof
        f = state.fint.reshape(-1, ndof)[self.driven, :3].sum(axis=0)
        return float(f @ self.direction)

    def record(self, t: float, state: State) -> float:
        """Append the point of ``state`` at displacement ``t``; return its force."""
        f = self.reaction(state)
        w = 0.0 if not self.d else self.w[-1] + 0.5 * (f + self.f[-1]) * (t - self.d[-1])
        self.plastic += float(state.plastic_work.sum())
        self.d.append(t)
        self.f.append(f)
        self.w.append(w)
        stored = float(self.members.stored_energy(state).sum())
        if len(self.d) == 1:
            self.prestress_energy = stored
        self.st.append(stored - self.prestress_energy)
        self.di.append(self.plastic + self.broken + self.released)
        if f > self.peak:
            self.peak, self.peak_state, self.peak_index = f, state, len(self.d) - 1
        return f


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
    rest_length: np.ndarray | None = None,
    progress: Callable[[float, int], None] | None = None,
) -> NonlinearResult:
    """Pull ``driven_nodes`` along ``direction`` up to ``max_disp`` [mm] or final failure.

    Parameters
    ----------
    pos, edges
        (N, 3) positions [mm] at the start (the prestressed equilibrium, if any), (M, 2)
        members.
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
        Resolution: no increment is longer than ``max_disp / steps`` (>= 2); increments
        are shorter wherever members strain fast or a member is about to break.
    bending
        Add linear frame bending stiffness (fused joints, 6 DOF per node).
    stop_ratio
        The analysis ends (final failure) once members have broken and the force has
        dropped below this fraction of its peak.
    partial
        If no equilibrium can be found after at least one converged increment, return the
        history so far with ``stopped`` saying why, instead of raising.
    rest_length
        (M,) stress-free member lengths [mm] (a prestress: shorter than the members at
        ``pos``); default: the lengths at ``pos`` (stress-free start).
    progress
        Called after each increment with (fraction of ``max_disp`` reached, members
        broken so far).
    """
    pos = np.asarray(pos, float)
    edges = np.asarray(edges, np.int64)
    lengths = check_members(pos, edges, diameter)
    direction = np.asarray(direction, float)
    if direction.shape != (3,) or not np.isfinite(direction).all() or not direction.any():
        raise InputError(f"direction must be a non-zero 3-vector, got {direction!r}")
    direction = direction / np.linalg.norm(direction)
    if not (np.isfinite(max_disp) and max_disp > 0):
        raise InputError(f"max displacement must be positive, got {max_disp!r}")
    if int(steps) < 2:
        raise InputError(f"steps must be >= 2, got {steps!r}")
    rest = lengths if rest_length is None else np.asarray(rest_length, float)
    if rest.shape != lengths.shape or not (np.isfinite(rest).all() and (rest > 0).all()):
        raise InputError("rest_length must hold one positive, finite length per member")
    fixed_nodes = np.unique(np.asarray(fixed_nodes, np.int64))
    driven_nodes = np.unique(np.asarray(driven_nodes, np.int64))
    if np.intersect1d(fixed_nodes, driven_nodes).size:
        raise InputError("supported and loaded regions overlap; choose disjoint regions")
    check_supported(edges, len(pos), np.union1d(fixed_nodes, driven_nodes))
    members = Members(pos, edges, law, diameter, rest, bending)
    run = _Run(members, fixed_nodes, driven_nodes, direction, float(max_disp), int(steps))
    return run.go(stop_ratio, partial, progress)


def tangent_stiffness(
    pos: np.ndarray,
    edges: np.ndarray,
    law: Material,
    diameter: float | np.ndarray,
    fixed_nodes: np.ndarray,
    driven_nodes: np.ndarray,
    direction: np.ndarray,
    rest_length: np.ndarray | None = None,
    bending: bool = False,
) -> float:
    """Initial stiffness [N/mm] of the grip along ``direction``: the tangent at the
    (prestressed) start, condensed onto the driven nodes. Same arguments as
    :func:`displacement_control`."""
    pos = np.asarray(pos, float)
    edges = np.asarray(edges, np.int64)
    lengths = check_members(pos, edges, diameter)
    rest = lengths if rest_length is None else np.asarray(rest_length, float)
    direction = np.asarray(direction, float) / np.linalg.norm(direction)
    members = Members(pos, edges, law, diameter, rest, bending)
    run = _Run(members, np.unique(fixed_nodes), np.unique(driven_nodes), direction, 1.0, 2)
    return run.initial_response(members.evaluate(np.zeros((len(pos), members.ndof))))[0]


class _Run:
    """One displacement-controlled analysis (state shared by its small steps)."""

    def __init__(self, members, fixed_nodes, driven_nodes, direction, max_disp, steps):
        self.m = members
        self.fixed_nodes, self.driven = fixed_nodes, driven_nodes
        self.direction, self.max_disp, self.steps = direction, max_disp, steps
        n, ndof = len(members.pos), members.ndof
        held = np.zeros((n, ndof), bool)
        held[fixed_nodes] = True
        held[driven_nodes] = True
        isolated = np.ones(n, bool)
        isolated[members.edges.ravel()] = False
        held[isolated] = True
        self.free = np.flatnonzero(~held.ravel())
        ea = np.broadcast_to(members.law.E, (members.m,)) * members.A
        self.tol = 1e-14 * float(ea.max())  # plus 1e-10 of the largest member force
        self.solver = LinearSolver()
        self.lam = [0.0]
        self.hist = _History(members, driven_nodes, direction)
        self.broken_step = np.full(members.m, -1)
        self.iterations = 0

    def equilibrium(self, u: np.ndarray, max_iter: int = 100) -> tuple[State, int] | None:
        out = minimise(self.m, u, self.free, self.tol, self.solver, self.lam, max_iter)
        if out is not None:
            self.iterations += out[1]
        return out

    def predict(self, state: State, velocity: np.ndarray, step: float, t: float) -> np.ndarray:
        """Start of the next increment: the grip moved, the free nodes where they were or
        moved on by the last increment's velocity, whichever has the lower energy (a
        slack strand can swing far in one increment and be a poor guess for the next)."""
        stay = state.u.copy()
        stay[self.driven, :3] = t * self.direction
        moved = stay + velocity * step
        moved[self.driven, :3] = t * self.direction
        if not velocity.any():
            return stay
        e_stay = self.m.evaluate(stay, tangent=False).energy
        e_moved = self.m.evaluate(moved, tangent=False).energy
        return moved if e_moved <= e_stay else stay

    def initial_response(self, state: State) -> tuple[float, float]:
        """Tangent stiffness of the grip along the loading direction [N/mm] and the
        largest rate of strain of a loaded member per mm of grip travel (relative to
        its failure strain), from the linear response at the start."""
        m, ndof = self.m, self.m.ndof
        k = state.kt.tocsr()
        d = np.zeros((len(m.pos), ndof))
        d[self.driven, :3] = self.direction
        d = d.ravel()
        full = d.copy()
        if self.free.size:
            kff = free_submatrix(state.kt, self.free, ndof).tocsc()
            diag = np.abs(kff.diagonal())
            floor = 1e-12 * max(float(diag.max()), 1e-300)
            shifted = kff + sp.diags(floor * np.ones(kff.shape[0]))
            x = self.solver.solve(shifted, -(k @ d)[self.free], np.maximum(diag, floor))
            if x is None:
                return 0.0, 0.0
            full[self.free] = x
        v = full.reshape(-1, ndof)[:, :3]
        e = m.edges
        vec = m.vec0 + state.u[e[:, 1], :3] - state.u[e[:, 0], :3]
        rate = np.einsum("ij,ij->i", vec, v[e[:, 1]] - v[e[:, 0]]) / np.linalg.norm(vec, axis=1)
        rate = np.abs(rate) / m.L0 / m.eps_f
        return float(d @ (k @ full)), float(rate[m.alive].max(initial=0.0))

    def go(self, stop_ratio, partial, progress) -> NonlinearResult:
        m, hist = self.m, self.hist
        shape = (len(m.pos), m.ndof)
        start = self.equilibrium(np.zeros(shape))
        if start is None:
            raise SolverError("no equilibrium at the start: is the prestress consistent?")
        state = start[0]
        m.commit(state)
        hist.record(0.0, state)
        stiffness, rate = self.initial_response(state)
        dt_max = self.max_disp / self.steps
        dt = min(dt_max, STRAIN_STEP / rate) if rate > 0 else dt_max / 4
        min_dt = dt_max * 1e-7
        strain_step = STRAIN_STEP
        t, velocity, failed, stopped, cuts = 0.0, np.zeros(shape), False, "", 0
        increments = 0  # displacement increments (re-equilibria after breaks not counted)
        while t < self.max_disp * (1 - 1e-12) and not failed:
            if increments > MAX_POINTS_PER_STEP * self.steps:
                stopped = (
                    f"stopped after {increments} increments at {t:.4g} mm (very small "
                    "increments: many members failing one by one, or a mostly slack structure; "
                    f"allowed: {MAX_POINTS_PER_STEP} x steps, so more steps allow more)"
                )
                break
            step = min(dt, self.max_disp - t)
            guess = self.predict(state, velocity, step, t + step)
            out = self.equilibrium(guess)
            if out is None:
                if step / 4 < min_dt:
                    stopped = f"no equilibrium found beyond a displacement of {t:.4g} mm"
                    break
                dt = step / 4
                continue
            new, iters = out
            ratio, ratio0 = m.failing(new).max(), m.failing(state).max()
            if ratio > 1 + OVERSHOOT and step > min_dt and cuts < 12:
                frac = (1 + OVERSHOOT / 2 - ratio0) / max(ratio - ratio0, 1e-300)
                dt, cuts = step * float(np.clip(frac, 0.01, 0.95)), cuts + 1
                continue
            cuts, increments = 0, increments + 1
            deps = _strain_change(m, state, new)
            velocity = (new.u - state.u) / step
            t += step
            m.commit(new)
            hist.record(t, new)
            state = new
            state, failed, stopped, changed = self.break_members(state, t)
            if changed:
                velocity[:] = 0.0
            grow = float(np.clip(strain_step / max(deps, 1e-300), 0.25, 2.0))
            if iters > SLOW_ITERS:
                grow = min(grow, 0.5)
            dt = min(step * grow, dt_max) if not changed else min(dt, dt_max)
            if stopped:
                break
            broke = bool((self.broken_step >= 0).any())
            if not failed and broke and hist.peak > 0 and hist.f[-1] < stop_ratio * hist.peak:
                failed = True  # members broke and what is left carries (almost) nothing
            if progress is not None:
                progress(t / self.max_disp, int((self.broken_step >= 0).sum()))
        if stopped and not partial:
            raise SolverError(stopped)
        return self.result(state, failed, stopped, stiffness)

    def break_members(self, state: State, t: float) -> tuple[State, bool, str, bool]:
        """Delete members past failure and re-equilibrate (repeatedly) at displacement t."""
        m, hist = self.m, self.hist
        changed = False
        while True:
            over = m.failing(state) > 1.0
            if not over.any():
                return state, False, "", changed
            changed = True
            before = m.stored_energy(state)
            m.alive &= ~over
            self.broken_step[over] = len(hist.d) - 1
            hist.broken += float(before[over].sum())
            if not m.alive.any() or not _connected(
                m.edges[m.alive], len(m.pos), self.fixed_nodes, self.driven
            ):
                hist.released += float(before[m.alive].sum())
                m.alive[:] = False
                hist.record(t, m.evaluate(state.u, tangent=False))
                return state, True, "", changed
            new = self.release(state, over)
            if new is None:
                return state, False, f"no equilibrium after member failure at {t:.4g} mm", changed
            hist.released += float(before[m.alive].sum()) - float(
                m.stored_energy(new).sum()
            ) - float(new.plastic_work.sum())
            m.commit(new)
            hist.record(t, new)
            state = new

    def release(self, state: State, gone: np.ndarray) -> State | None:
        """Equilibrium once members ``gone`` (already marked dead) are removed. Where one
        jump is too far for the solver (a structure snapping to a new shape), their force
        is released in stages (continuation), each stage starting from the last."""
        out = self.equilibrium(state.u, max_iter=300)
        if out is not None:
            return out[0]
        m = self.m
        m.alive[gone] = True
        try:
            for fade in (0.5, 0.2, 0.05, 0.01, 0.0):
                m.fade[gone] = fade
                out = self.equilibrium(state.u, max_iter=300)
                if out is None:
                    return None
                state = out[0]
        finally:
            m.alive[gone] = False
            m.fade[gone] = 1.0
        out = self.equilibrium(state.u, max_iter=300)
        return None if out is None else out[0]

    def result(self, state: State, failed: bool, stopped: str, stiffness: float):
        hist = self.hist
        peak = hist.peak_state if hist.peak_state is not None else state
        gone = (self.broken_step >= 0) & (self.broken_step < hist.peak_index)
        return NonlinearResult(
            displacement=np.array(hist.d),
            force=np.array(hist.f),
            external_work=np.array(hist.w),
            stored_energy=np.array(hist.st),
            dissipated_energy=np.array(hist.di),
            broken_step=self.broken_step,
            strain_peak=np.where(gone, np.nan, peak.eps),
            stress_peak=np.where(gone, np.nan, peak.stress),
            u=state.u[:, :3].copy(),
            failed=failed,
            stopped=stopped,
            stiffness=stiffness,
            prestress_energy=hist.prestress_energy,
            iterations=self.iterations,
            factorisations=self.solver.factorisations,
        )


def _strain_change(m: Members, a: State, b: State) -> float:
    """Largest strain change between two states of members loaded in either, relative to
    their failure strains (slack threads drifting without force do not count)."""
    loaded = m.alive & ((a.stress != 0) | (b.stress != 0))
    return float((np.abs(b.eps - a.eps)[loaded] / m.eps_f[loaded]).max(initial=0.0))


def _connected(edges: np.ndarray, n: int, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether any node of set ``a`` is still connected to any node of set ``b``."""
    adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = csgraph.connected_components(adj, directed=False)
    return bool(np.intersect1d(labels[a], labels[b]).size)
