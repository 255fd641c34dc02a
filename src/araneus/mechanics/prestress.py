"""Self-stress (pretension) of webs: an equilibrium of thread tensions for any geometry.

Real webs are pretensioned cable nets: every thread is taut, and the tensions balance at
every free junction (Wirth & Barth, J. Comp. Physiol. A 171, 359-371, 1992, measured
mooring : frame : radial thread forces of about 10 : 7 : 1 in *Araneus diadematus* orb
webs). A tension-only net analysed stress-free has no stiffness at all (a mechanism), so
araneus gives every silk web a self-stress state before testing it:

1. **Load-bearing part.** Threads of parts that hang from the rest by one node (free
   ends, loose strands, loops and clusters held at one point) carry no force in any
   equilibrium without external load (:func:`load_bearing_edges`); they are left
   unstressed and out of the analysis (counted as unloaded).
2. **Force densities.** Each thread gets a target force density ``q0 = T / l``: the web's
   own ``edge_attrs["force_density"]`` (the builders store the ones they form-found
   with), else the same fraction of every thread's breaking force (``q0 = F_b / l``:
   constant tension along a thread, whatever its segments).
3. **Equilibrium near the geometry.** Force densities ``q >= q0 / 10`` that balance the
   free nodes *of the given geometry* as nearly as possible are fitted by bound-
   constrained sparse least squares on the equilibrium matrix (where the geometry is an
   equilibrium of some positive tensions, that fit is exact and nothing moves). The
   force density method (Schek, Comput. Methods Appl. Mech. Eng. 3, 115-134, 1974)
   then places the free nodes in exact equilibrium, with the fitted densities or with
   ``q0``, whichever moves the nodes less; how far each node moved is reported (a
   sagging or jittered thread is pulled straight; a web cut from its anchors contracts).
4. **Level.** The tensions ``T = q l`` are scaled to the requested level: by default
   the median tension of the dragline threads is :data:`PRETENSION_FRACTION` of their
   breaking force (a few percent, as measured for radial and frame threads), lowered
   where needed so that 95% of the threads stay below :data:`MAX_FRACTION` of their
   breaking force (below the yield of dragline silk) and all below
   :data:`PEAK_FRACTION`; or a median tension in newtons given by the user (an error if
   it would break a thread).
5. **Rest lengths.** Each thread's stress-free length ``L0 = l / (1 + eps0)`` with
   ``eps0`` the strain at which its material law gives the tension, so that a linear
   thread of axial stiffness ``EA`` carries ``T(l') = EA (l' / L0 - 1)`` at any later
   length ``l'`` (``T0`` at ``l' = l``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import InputError, SolverError

#: Default pretension: median dragline thread tension as a fraction of its breaking force.
PRETENSION_FRACTION = 0.03
#: Default pretension keeps 95% of the threads below this fraction of their breaking force
#: (dragline silk yields at about 0.18 of it) and every thread below PEAK_FRACTION.
MAX_FRACTION = 0.15
PEAK_FRACTION = 0.5
#: Lowest force density relative to the target, during the fit to the geometry.
Q_FLOOR = 0.1


@dataclass
class Prestress:
    """A web's self-stress state.

    Attributes
    ----------
    pos
        (N, 3) equilibrium positions [mm] (the input positions where nothing moved).
    tension
        (E,) thread tension [N]; 0 for threads outside the load-bearing part.
    rest_length
        (E,) stress-free length [mm] (the current length where the tension is 0).
    active
        (E,) True for threads of the load-bearing (pretensioned) part.
    moved
        (N,) distance each node moved in form finding [mm].
    level
        Median tension of the reference threads [N] (dragline where known).
    source
        Where the target force densities came from.
    """

    pos: np.ndarray
    tension: np.ndarray
    rest_length: np.ndarray
    active: np.ndarray
    moved: np.ndarray
    level: float
    source: str

    def summary(self) -> dict[str, float | int | str]:
        """JSON-friendly figures of the prestress."""
        t = self.tension[self.active]
        return {
            "pretension_median_N": float(np.median(t)) if len(t) else 0.0,
            "pretension_max_N": float(t.max()) if len(t) else 0.0,
            "pretensioned_members": int(self.active.sum()),
            "prestress_moved_max_mm": float(self.moved.max()) if len(self.moved) else 0.0,
            "prestress_moved_median_mm": float(np.median(self.moved)) if len(self.moved) else 0.0,
            "force_density_source": self.source,
        }


def load_bearing_edges(edges: np.ndarray, n_nodes: int, fixed: np.ndarray) -> np.ndarray:
    """(E,) mask of the threads that can carry tension in a self-stress state.

    With a "ground" node joined to every held node, a thread can be taut only if it lies
    in a biconnected block that contains the ground: a part hanging from the rest by a
    single node (a loose end, a strand, a loop or any cluster held at one point) has no
    node to pull against and carries nothing (in equilibrium every thread of it is
    slack), and neither does a part no support holds.
    """
    import networkx as nx

    edges = np.asarray(edges, np.int64)
    fixed = np.unique(np.asarray(fixed, np.int64))
    keep = np.zeros(len(edges), bool)
    if len(edges) == 0 or len(fixed) == 0:
        return keep
    ground = n_nodes
    g = nx.Graph()
    g.add_edges_from(edges.tolist())
    g.add_edges_from((ground, int(f)) for f in fixed)
    used = set()
    for block in nx.biconnected_component_edges(g):
        block = list(block)
        if any(ground in e for e in block):
            used.update((min(a, b), max(a, b)) for a, b in block if ground not in (a, b))
    key = np.minimum(edges[:, 0], edges[:, 1]) * (n_nodes + 1) + np.maximum(edges[:, 0], edges[:, 1])
    if used:
        ids = np.array([a * (n_nodes + 1) + b for a, b in used], np.int64)
        keep = np.isin(key, ids)
    return keep


def _incidence(edges: np.ndarray, n: int) -> sp.csr_matrix:
    m = len(edges)
    return sp.csr_matrix(
        (np.r_[-np.ones(m), np.ones(m)], (np.r_[np.arange(m), np.arange(m)], edges.T.ravel())),
        shape=(m, n),
    )


def fit_force_densities(
    pos: np.ndarray, edges: np.ndarray, free: np.ndarray, q0: np.ndarray, weight: float = 1e-4
) -> np.ndarray:
    """Force densities ``q >= Q_FLOOR q0`` balancing the free nodes of ``pos`` best.

    Minimises ``|| A q ||^2 / s^2 + weight || (q - q0) / q0 ||^2`` subject to
    ``sum q l^2 = sum q0 l^2`` (equilibrium does not fix the scale of ``q``; this keeps
    it), with ``A`` the (3 F, E) equilibrium matrix of the free nodes (column of edge
    ``(i, j)``: ``x_j - x_i`` at ``i``, ``x_i - x_j`` at ``j``) and ``s`` the median
    target thread force: the KKT system of the sparse normal equations, in a few rounds
    of an active-set loop (members pinned at the floor stay there). Where ``q0`` already
    balances the geometry, ``q = q0``.
    """
    c = _incidence(edges, len(pos))[:, free]  # (E, F)
    vec = pos[edges[:, 1]] - pos[edges[:, 0]]
    l2 = np.einsum("ij,ij->i", vec, vec)
    scale = float(np.median(q0 * np.sqrt(l2)))
    a = sp.vstack([(c.T @ sp.diags(vec[:, k])) for k in range(3)]).tocsr() / scale
    w = weight / q0**2
    normal = (a.T @ a + sp.diags(w)).tocsc()
    rhs = w * q0
    lo = Q_FLOOR * q0
    total = float(q0 @ l2)
    pinned = np.zeros(len(q0), bool)
    q = q0.copy()
    for _ in range(8):
        fr = ~pinned
        sub = normal[fr][:, fr].tocsc()
        b = rhs[fr] - normal[fr][:, pinned] @ lo[pinned]
        try:
            lu = sp.linalg.splu(sub)
        except RuntimeError as exc:  # pragma: no cover - the matrix is positive definite
            raise SolverError(f"force-density fit failed: {exc}") from None
        x0, x1 = lu.solve(b), lu.solve(l2[fr])
        # multiplier of the scale constraint: sum over free of (x0 - mu x1) l2 = rest
        target = total - float(lo[pinned] @ l2[pinned])
        mu = (float(x0 @ l2[fr]) - target) / float(x1 @ l2[fr])
        q[fr] = x0 - mu * x1
        q[pinned] = lo[pinned]
        low = q < lo
        if not low.any():
            break
        pinned |= low
    return np.maximum(q, lo)


class _ForceDensity:
    """Force-density equilibrium of a net with fixed nodes (Schek 1974): for densities
    ``q``, the free positions solve ``D_ff x_f = -D_fx x_x`` (one sparse factorisation
    serves the three coordinates), and the sensitivity ``dx_f / dq = -D_ff^-1 A(x)``."""

    def __init__(self, pos: np.ndarray, edges: np.ndarray, free: np.ndarray):
        self.pos, self.free = pos, free
        c = _incidence(edges, len(pos)).tocsc()
        self.cf, self.cx = c[:, free].tocsr(), c[:, ~free].tocsr()
        self.c = c.tocsr()

    def solve(self, q: np.ndarray):
        """Equilibrium positions (N, 3) and the factorised ``D_ff``."""
        qd = sp.diags(q)
        lu = spla.splu((self.cf.T @ qd @ self.cf).tocsc())
        rhs = -(self.cf.T @ qd @ self.cx) @ self.pos[~self.free]
        x = self.pos.copy()
        x[self.free] = lu.solve(rhs)
        return x, lu

    def refine(self, q: np.ndarray, iters: int = 8, bound: float = 30.0) -> tuple:
        """Gauss-Newton on ``log q`` (within ``bound`` of the start) to bring the
        equilibrium nearer to ``pos``: minimises ``|x(q) - pos|^2`` over the free nodes
        plus a small pull toward the starting ``q`` (LSQR on the implicit Jacobian)."""
        q_start = q
        z = np.zeros(len(q))
        x, lu = self.solve(q)
        free = self.free
        nf = int(free.sum())
        length = np.linalg.norm(self.c @ self.pos, axis=1)
        reg = (0.1 * float(np.median(length))) ** 2
        lam = reg

        def cost(z, x):
            return float(np.sum((x[free] - self.pos[free]) ** 2) + reg * np.sum(z**2))

        best = cost(z, x)
        for _ in range(iters):
            qz = q_start * np.exp(z)
            vec = self.c @ x

            def jv(v, lu=lu, qz=qz, vec=vec):
                dq = qz * v
                return -np.column_stack([lu.solve(self.cf.T @ (dq * vec[:, k])) for k in range(3)])

            def jtw(w, lu=lu, qz=qz, vec=vec):
                w = w.reshape(-1, 3)
                acc = sum(vec[:, k] * (self.cf @ lu.solve(w[:, k])) for k in range(3))
                return -qz * acc

            jac = spla.LinearOperator(
                (3 * nf, len(q)), matvec=lambda v: jv(v).ravel(), rmatvec=jtw
            )
            r = (x[free] - self.pos[free]).ravel()
            c = lam / (reg + lam)
            rhs = (1 - c) * jac.matvec(z) - r
            y = spla.lsqr(jac, rhs, damp=np.sqrt(reg + lam), iter_lim=50)[0]
            z_new = np.clip(y + c * z, -np.log(bound), np.log(bound))
            x_new, lu_new = self.solve(q_start * np.exp(z_new))
            new = cost(z_new, x_new)
            if new < best:
                if new > 0.95 * best:
                    z, x, lu, best = z_new, x_new, lu_new, new
                    break
                z, x, lu, best, lam = z_new, x_new, lu_new, new, lam / 3
            else:
                lam *= 10
        return x, q_start * np.exp(z)


def _nearest_equilibrium(
    pos: np.ndarray, edges: np.ndarray, free: np.ndarray, q0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Equilibrium positions and force densities near the given geometry.

    Starts from the targets ``q0`` or the densities fitted to the geometry, whichever
    moves the nodes less, then (when nodes moved more than 1% of a median thread)
    refines the densities by Gauss-Newton to move them less.
    """
    if not free.any():
        return pos.copy(), q0
    fdm = _ForceDensity(pos, edges, free)
    length = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    med = float(np.median(length))
    best = None
    for q in (q0, fit_force_densities(pos, edges, free, q0)):
        x, _ = fdm.solve(q)
        moved = float(np.median(np.linalg.norm(x - pos, axis=1)[free]))
        # where held nodes split the net into independent parts, the geometry does not
        # fix their relative tension and both candidates move the nodes alike: keep q0
        # unless the fit is better by more than round-off
        if best is None or moved < best[0] - 1e-9 * med:
            best = (moved, x, q)
    moved, x, q = best
    if moved > 0.01 * med:
        x, q = fdm.refine(q)
    return x, q


def compute_prestress(
    pos: np.ndarray,
    edges: np.ndarray,
    fixed: np.ndarray,
    law,
    diameter: np.ndarray,
    level: float | None = None,
    q0: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    source: str = "uniform",
) -> Prestress:
    """Self-stress state of a thread network with the nodes ``fixed`` held.

    Parameters
    ----------
    pos, edges
        (N, 3) positions [mm] and (E, 2) threads.
    fixed
        Indices of held nodes (anchors, test supports and grips).
    law
        Material law of the threads (scalar or per thread); gives breaking forces and
        the strain at each tension.
    diameter
        (E,) or scalar thread diameters [mm].
    level
        Median tension of the reference threads [N]; ``None`` = :data:`PRETENSION_FRACTION`
        of their breaking force.
    q0
        (E,) target force densities (any positive scale); ``None`` = the same fraction
        of every thread's breaking force (``q0 = F_break / l``).
    reference
        (E,) mask of the threads whose median tension sets the level (e.g. dragline);
        ``None`` or empty = all load-bearing threads.
    source
        Label of where ``q0`` came from, for reports.
    """
    pos = np.asarray(pos, np.float64)
    edges = np.asarray(edges, np.int64)
    n, m = len(pos), len(edges)
    diameter = np.broadcast_to(np.asarray(diameter, np.float64), (m,))
    area = np.pi * diameter**2 / 4
    if q0 is None:
        f_break = np.broadcast_to(np.asarray(law.sigma_f, np.float64), (m,)) * area
        q0 = f_break / np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    q0 = np.asarray(q0, np.float64)
    if q0.shape != (m,) or not (np.isfinite(q0).all() and (q0 > 0).all()):
        raise InputError("force densities must be positive and finite, one per thread")
    fixed = np.unique(np.asarray(fixed, np.int64))
    active = load_bearing_edges(edges, n, fixed)
    if not active.any():
        raise InputError(
            "no thread can be pretensioned: every thread belongs to a loose end or to a "
            "part that no support holds"
        )
    idx = np.flatnonzero(active)
    ea = edges[active]
    is_fixed = np.zeros(n, bool)
    is_fixed[fixed] = True
    used = np.zeros(n, bool)
    used[ea.ravel()] = True
    free = used & ~is_fixed
    new_pos, q = _nearest_equilibrium(pos, ea, free, q0[active])
    length = np.linalg.norm(new_pos[ea[:, 1]] - new_pos[ea[:, 0]], axis=1)
    if np.any(length <= 1e-9 * max(float(np.ptp(pos, axis=0).max()), 1e-300)):
        raise SolverError(
            "form finding collapsed a thread to zero length: the supports cannot hold this "
            "web in tension (add supports, or test with --pretension none)"
        )
    tension = q * length
    ref = np.ones(len(idx), bool) if reference is None else np.asarray(reference, bool)[active]
    if not ref.any():
        ref = np.ones(len(idx), bool)
    sub = law.take(idx) if hasattr(law, "take") else law
    breaking = np.broadcast_to(np.asarray(sub.sigma_f, np.float64), (len(idx),)) * area[active]
    ratio = tension / breaking
    if level is None:  # the literature default, kept below MAX_FRACTION everywhere
        scale = min(
            PRETENSION_FRACTION / float(np.median(ratio[ref])),
            MAX_FRACTION / float(np.percentile(ratio, 95)),
            PEAK_FRACTION / float(ratio.max()),
        )
    else:
        if not (np.isfinite(level) and level > 0):
            raise InputError(f"pretension must be a positive force in newtons, got {level!r}")
        scale = level / float(np.median(tension[ref]))
        over = ratio * scale >= 1.0
        if over.any():
            raise InputError(
                f"a pretension of {level:.3g} N (median) overloads {int(over.sum())} threads "
                "beyond their breaking force; lower --pretension"
            )
    tension *= scale
    level = float(np.median(tension[ref]))
    full_t = np.zeros(m)
    full_t[active] = tension
    rest = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    rest[active] = length / (1.0 + sub.strain_at(tension / area[active]))
    moved = np.linalg.norm(new_pos - pos, axis=1)
    return Prestress(new_pos, full_t, rest, active, moved, float(level), source)
