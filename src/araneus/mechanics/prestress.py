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
from scipy.sparse.csgraph import depth_first_order

from ..errors import InputError, SolverError
from .segments import seg_max, seg_median, seg_percentile, seg_sum

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

    Computed with one depth-first search from the ground (scipy) and Tarjan's low points:
    the tree edge into ``v`` opens a new block when no back edge from ``v``'s subtree
    climbs above ``v``'s parent; every other edge belongs to the block of the tree edge
    above it; blocks opened at the ground are the ones wanted. Works unchanged on the
    disjoint union of many webs (:mod:`araneus.mechanics.batched`).
    """
    edges = np.asarray(edges, np.int64)
    held = np.unique(np.asarray(fixed, np.int64))
    keep = np.zeros(len(edges), bool)
    if len(edges) == 0 or len(held) == 0:
        return keep
    g = n_nodes
    a = np.r_[edges[:, 0], np.full(len(held), g)]
    b = np.r_[edges[:, 1], held]
    adj = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(g + 1, g + 1))
    order, pred = depth_first_order(adj, g, directed=False, return_predecessors=True)
    reached = np.zeros(g + 1, bool)
    reached[order] = True
    depth = _depths(order, pred, g)
    # low points: the shallowest depth a back edge from a node reaches
    low = depth.astype(np.float64)
    u, v = a[reached[a]], b[reached[a]]
    tree = (pred[u] == v) | (pred[v] == u)
    u, v = u[~tree], v[~tree]
    deep = np.where(depth[u] > depth[v], u, v)
    shallow = np.where(depth[u] > depth[v], v, u)
    np.minimum.at(low, deep, depth[shallow].astype(np.float64))
    levels = _levels(order, depth)
    for nodes in reversed(levels[1:]):  # children before parents
        np.minimum.at(low, pred[nodes], low[nodes])
    head = np.zeros(g + 1, np.int64)  # the node whose tree edge opens each node's block
    head[g] = g
    for nodes in levels[1:]:
        p = pred[nodes]
        opens = low[nodes] >= depth[p]
        head[nodes] = np.where(opens, nodes, head[p])
    e0, e1 = edges[:, 0], edges[:, 1]
    ok = reached[e0] & reached[e1]
    lower = np.where(depth[e0] >= depth[e1], e0, e1)
    keep[ok] = pred[head[lower[ok]]] == g
    return keep


def _depths(order: np.ndarray, pred: np.ndarray, root: int) -> np.ndarray:
    """Depth of every node in the search tree (-1 where not reached), by pointer jumping."""
    n = len(pred)
    depth = np.full(n, -1, np.int64)
    anc = np.where(pred >= 0, pred, np.arange(n))
    d = (pred >= 0).astype(np.int64)
    while True:  # d[v] counts the hops from v to anc[v]; each round doubles the jump
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            break
        d = d + d[anc]
        anc = nxt
    depth[order] = d[order]
    depth[root] = 0
    return depth


def _levels(order: np.ndarray, depth: np.ndarray) -> list[np.ndarray]:
    """Reached nodes grouped by depth (index = depth)."""
    dd = depth[order]
    srt = order[np.argsort(dd, kind="stable")]
    counts = np.bincount(dd)
    return np.split(srt, np.cumsum(counts)[:-1])


def incidence(edges: np.ndarray, n: int) -> sp.csr_matrix:
    """(E, n) signed incidence matrix: -1 at each edge's first node, +1 at its second."""
    m = len(edges)
    rows = np.r_[np.arange(m), np.arange(m)]
    return sp.csr_matrix((np.r_[-np.ones(m), np.ones(m)], (rows, edges.T.ravel())), shape=(m, n))


def fit_force_densities(
    pos: np.ndarray,
    edges: np.ndarray,
    free: np.ndarray,
    q0: np.ndarray,
    weight: float = 1e-4,
    piece: np.ndarray | None = None,
    n_pieces: int = 1,
) -> np.ndarray:
    """Force densities ``q >= Q_FLOOR q0`` balancing the free nodes of ``pos`` best.

    Minimises ``|| A q ||^2 / s^2 + weight || (q - q0) / q0 ||^2`` subject to
    ``sum q l^2 = sum q0 l^2`` (equilibrium does not fix the scale of ``q``; this keeps
    it), with ``A`` the (3 F, E) equilibrium matrix of the free nodes (column of edge
    ``(i, j)``: ``x_j - x_i`` at ``i``, ``x_i - x_j`` at ``j``) and ``s`` the median
    target thread force: the KKT system of the sparse normal equations, in a few rounds
    of an active-set loop (members pinned at the floor stay there). Where ``q0`` already
    balances the geometry, ``q = q0``.

    ``piece`` (N,) and ``n_pieces``: for the disjoint union of many webs, the web of each
    node; the scale, the constraint and the active-set rounds are then per web (one
    sparse factorisation serves them all). Default: one web.
    """
    n = int(n_pieces)
    piece = np.zeros(len(pos), np.int64) if piece is None else np.asarray(piece, np.int64)
    ep = piece[edges[:, 0]] if len(edges) else np.zeros(0, np.int64)
    c = incidence(edges, len(pos))[:, free]  # (E, F)
    vec = pos[edges[:, 1]] - pos[edges[:, 0]]
    l2 = np.einsum("ij,ij->i", vec, vec)
    scale = seg_median(q0 * np.sqrt(l2), ep, n)
    rs = sp.diags(1.0 / scale[piece[free]])
    a = sp.vstack([rs @ (c.T @ sp.diags(vec[:, k])) for k in range(3)]).tocsr()
    w = weight / q0**2
    normal = (a.T @ a + sp.diags(w)).tocsr()
    rhs = w * q0
    lo = Q_FLOOR * q0
    total = seg_sum(q0 * l2, ep, n)
    pinned = np.zeros(len(q0), bool)
    done = np.zeros(n, bool)
    q = q0.copy()
    for _ in range(8):
        fr = ~pinned
        sub = normal[fr][:, fr].tocsc()
        b = rhs[fr] - normal[fr][:, pinned] @ lo[pinned]
        try:
            lu = spla.splu(sub)
        except RuntimeError as exc:  # pragma: no cover - the matrix is positive definite
            raise SolverError(f"force-density fit failed: {exc}") from None
        x0, x1 = lu.solve(b), lu.solve(l2[fr])
        # multiplier of the scale constraint: sum over free of (x0 - mu x1) l2 = rest
        epf = ep[fr]
        target = total - seg_sum(lo[pinned] * l2[pinned], ep[pinned], n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = (seg_sum(x0 * l2[fr], epf, n) - target) / seg_sum(x1 * l2[fr], epf, n)
        new = q.copy()
        new[fr] = x0 - mu[epf] * x1
        new[pinned] = lo[pinned]
        upd = ~done[ep]  # webs already settled keep their densities
        q[upd] = new[upd]
        low = (q < lo) & upd
        done |= np.bincount(ep[low], minlength=n)[:n] == 0
        if done.all():
            break
        pinned |= low
    return np.maximum(q, lo)


def level_scale(
    tension: np.ndarray,
    breaking: np.ndarray,
    ref: np.ndarray,
    piece: np.ndarray,
    n_pieces: int,
    level: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Factors that bring the tensions of each web to the pretension level (step 4).

    Parameters
    ----------
    tension, breaking
        (E,) thread tensions of the equilibrium found and breaking forces [N].
    ref
        (E,) reference threads whose median tension sets the level.
    piece, n_pieces
        (E,) web of each thread, number of webs (one web: zeros and 1).
    level
        Median reference tension [N]; None = the literature default: the median
        reference ratio to the breaking force :data:`PRETENSION_FRACTION`, lowered so
        that the 95th percentile of all ratios stays below :data:`MAX_FRACTION` and the
        largest below :data:`PEAK_FRACTION`.

    Returns
    -------
    (P,) scale factors and (P,) the number of threads a given level would break.
    """
    n = int(n_pieces)
    ratio = tension / breaking
    if level is None:
        scale = np.minimum.reduce([
            PRETENSION_FRACTION / seg_median(ratio[ref], piece[ref], n),
            MAX_FRACTION / seg_percentile(ratio, piece, n, 95),
            PEAK_FRACTION / seg_max(ratio, piece, n),
        ])  # fmt: skip
        return scale, np.zeros(n, np.int64)
    scale = level / seg_median(tension[ref], piece[ref], n)
    over = np.bincount(piece[ratio * scale[piece] >= 1.0], minlength=n)[:n]
    return scale, over


class _ForceDensity:
    """Force-density equilibrium of a net with fixed nodes (Schek 1974): for densities
    ``q``, the free positions solve ``D_ff x_f = -D_fx x_x`` (one sparse factorisation
    serves the three coordinates), and the sensitivity ``dx_f / dq = -D_ff^-1 A(x)``."""

    def __init__(self, pos: np.ndarray, edges: np.ndarray, free: np.ndarray):
        self.pos, self.free = pos, free
        c = incidence(edges, len(pos)).tocsc()
        self.cf, self.cx = c[:, free].tocsr(), c[:, ~free].tocsr()
        self.c = c.tocsr()

    def factor(self, q: np.ndarray):
        """Equilibrium positions (N, 3), the factorised ``D_ff`` and ``D_ff`` itself
        (None, None where no node is free)."""
        x = self.pos.copy()
        if not self.free.any():
            return x, None, None
        qd = sp.diags(q)
        d = (self.cf.T @ qd @ self.cf).tocsc()
        lu = spla.splu(d)
        rhs = -(self.cf.T @ qd @ self.cx) @ self.pos[~self.free]
        x[self.free] = lu.solve(rhs)
        return x, lu, d

    def solve(self, q: np.ndarray):
        """Equilibrium positions (N, 3) and the factorised ``D_ff``."""
        x, lu, _ = self.factor(q)
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

            jac = spla.LinearOperator((3 * nf, len(q)), matvec=lambda v: jv(v).ravel(), rmatvec=jtw)
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
    if level is not None and not (np.isfinite(level) and level > 0):
        raise InputError(f"pretension must be a positive force in newtons, got {level!r}")
    one = np.zeros(len(idx), np.int64)
    scale, over = level_scale(tension, breaking, ref, one, 1, level)
    if over[0]:
        raise InputError(
            f"a pretension of {level:.3g} N (median) overloads {int(over[0])} threads "
            "beyond their breaking force; lower --pretension"
        )
    scale = float(scale[0])
    tension *= scale
    level = float(np.median(tension[ref]))
    full_t = np.zeros(m)
    full_t[active] = tension
    rest = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    rest[active] = length / (1.0 + sub.strain_at(tension / area[active]))
    moved = np.linalg.norm(new_pos - pos, axis=1)
    return Prestress(new_pos, full_t, rest, active, moved, float(level), source)
