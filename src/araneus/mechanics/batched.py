"""Batched linear mechanics of many small webs: one sparse system for a whole batch.

The webs of a batch are joined into one disjoint union (node and edge indices offset,
every array carries the index of the web it belongs to). Every matrix of the union is
block-diagonal, so one sparse factorisation serves all webs at once and each web's
numbers are exactly those of its own block: nothing couples the webs but the shared
factorisation. Per-web scalars (medians, scales, Lagrange multipliers, accept/reject
decisions of an iteration) are computed with segment reductions.

* :func:`load_bearing` - the threads that can carry a self-stress with given nodes held
  (the rule of :func:`araneus.mechanics.prestress.load_bearing_edges`: biconnected blocks
  that contain a ground joined to every held node), by one depth-first search and
  low-point propagation instead of a graph library.
* :func:`batch_prestress` - the self-stress state of
  :func:`araneus.mechanics.prestress.compute_prestress` for every web of a batch: fitted
  force densities, force-density form finding, Gauss-Newton refinement of the densities
  (its inner damped least-squares problem solved exactly, in the dual form
  ``y = -G^T (G G^T + delta D^2)^-1 D r``, instead of by 50 LSQR iterations), level and
  rest lengths.
* :func:`condensed_stiffness` - prescribed-displacement responses of a tangent matrix
  (the grip stiffness of :func:`araneus.mechanics.nonlinear.tangent_stiffness`, with its
  1e-12 diagonal floor) and Schur complements onto single nodes, for every web at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import depth_first_order

from ..errors import SolverError
from .prestress import MAX_FRACTION, PRETENSION_FRACTION, Q_FLOOR


# ----------------------------------------------------------------------------- segments
def seg_sum(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """(n,) sums of ``values`` grouped by segment ids ``seg``."""
    return np.bincount(seg, weights=values, minlength=n)[:n]


def seg_max(values: np.ndarray, seg: np.ndarray, n: int, empty: float = -np.inf) -> np.ndarray:
    """(n,) maxima of ``values`` per segment (``empty`` where a segment has none)."""
    out = np.full(n, empty, dtype=np.float64)
    if len(values):
        np.maximum.at(out, seg, values)
    return out


def seg_median(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """(n,) medians per segment, as :func:`numpy.median` (mean of the two middle values
    for an even count); NaN for an empty segment."""
    values = np.asarray(values, np.float64)
    order = np.lexsort((values, seg))
    v, s = values[order], seg[order]
    count = np.bincount(s, minlength=n)[:n]
    start = np.r_[0, np.cumsum(count)[:-1]]
    out = np.full(n, np.nan)
    ok = count > 0
    lo = start + (count - 1) // 2
    hi = start + count // 2
    out[ok] = 0.5 * (v[lo[ok]] + v[hi[ok]])
    return out


# ---------------------------------------------------------------------- load-bearing part
def load_bearing(edges: np.ndarray, n_nodes: int, held: np.ndarray) -> np.ndarray:
    """(E,) mask of the threads that can carry tension in a self-stress state.

    Same rule as :func:`araneus.mechanics.prestress.load_bearing_edges`: with a ground
    node joined to every held node, a thread is load-bearing if it lies in a biconnected
    block that contains the ground. Computed with one depth-first search from the ground
    (scipy) and Tarjan's low points: the tree edge into ``v`` opens a new block when no
    back edge from ``v``'s subtree climbs above ``v``'s parent; every other edge belongs to
    the block of the tree edge above it; blocks opened at the ground are the ones wanted.
    """
    edges = np.asarray(edges, np.int64)
    held = np.unique(np.asarray(held, np.int64))
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


# ---------------------------------------------------------------------------- prestress
def incidence(edges: np.ndarray, n: int) -> sp.csr_matrix:
    """(E, n) signed incidence matrix: -1 at each edge's first node, +1 at its second."""
    m = len(edges)
    rows = np.r_[np.arange(m), np.arange(m)]
    return sp.csr_matrix((np.r_[-np.ones(m), np.ones(m)], (rows, edges.T.ravel())), shape=(m, n))


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


class _Batch:
    """The load-bearing part of a batch: nodes, active edges, free nodes, pieces."""

    def __init__(self, pos, edges, free, node_piece, n_pieces):
        self.pos, self.edges, self.free = pos, edges, free
        self.node_piece, self.n = node_piece, n_pieces
        self.edge_piece = node_piece[edges[:, 0]] if len(edges) else np.zeros(0, np.int64)
        c = incidence(edges, len(pos)).tocsc()
        self.c = c.tocsr()
        self.cf, self.cx = c[:, free].tocsr(), c[:, ~free].tocsr()
        self.free_piece = node_piece[free]

    def solve(self, q: np.ndarray):
        """Force-density equilibrium (Schek 1974): positions (N, 3) and the factors of D_ff."""
        x = self.pos.copy()
        if not self.free.any():
            return x, None
        qd = sp.diags(q)
        d = (self.cf.T @ qd @ self.cf).tocsc()
        lu = spla.splu(d)
        rhs = -(self.cf.T @ qd @ self.cx) @ self.pos[~self.free]
        x[self.free] = lu.solve(rhs)
        return x, (lu, d)


def _fit(b: _Batch, q0: np.ndarray, weight: float = 1e-4) -> np.ndarray:
    """:func:`araneus.mechanics.prestress.fit_force_densities` for every web at once (the
    scale constraint and the active-set rounds per web)."""
    pos, e, ep, n = b.pos, b.edges, b.edge_piece, b.n
    vec = pos[e[:, 1]] - pos[e[:, 0]]
    l2 = np.einsum("ij,ij->i", vec, vec)
    scale = seg_median(q0 * np.sqrt(l2), ep, n)
    rs = sp.diags(1.0 / scale[b.free_piece])
    a = sp.vstack([rs @ (b.cf.T @ sp.diags(vec[:, k])) for k in range(3)]).tocsr()
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
        rhs_fr = rhs[fr] - normal[fr][:, pinned] @ lo[pinned]
        try:
            lu = spla.splu(sub)
        except RuntimeError as exc:  # pragma: no cover - positive definite
            raise SolverError(f"force-density fit failed: {exc}") from None
        x0, x1 = lu.solve(rhs_fr), lu.solve(l2[fr])
        epf = ep[fr]
        target = total - seg_sum(lo[pinned] * l2[pinned], ep[pinned], n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = (seg_sum(x0 * l2[fr], epf, n) - target) / seg_sum(x1 * l2[fr], epf, n)
        new = q.copy()
        new[fr] = x0 - mu[epf] * x1
        new[pinned] = lo[pinned]
        upd = ~done[ep]
        q[upd] = new[upd]
        low = (q < lo) & upd
        has_low = np.bincount(ep[low], minlength=n)[:n] > 0
        done |= ~has_low
        if done.all():
            break
        pinned |= low
    return np.maximum(q, lo)


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
    q_fit = _fit(b, q0)
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
    active = load_bearing(edges, n, np.flatnonzero(held))
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
    ratio = tension / breaking
    if level is None:
        scale = np.minimum(
            PRETENSION_FRACTION / seg_median(ratio[ref], eap[ref], P),
            MAX_FRACTION / seg_max(ratio, eap, P),
        )
    else:
        scale = level / seg_median(tension[ref], eap[ref], P)
        over = np.bincount(eap[ratio * scale[eap] >= 1.0], minlength=P)[:P]
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
