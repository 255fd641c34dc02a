"""Supports, loads and linear solution of frame and truss models.

Supports and loads are given by *regions*: ``"bottom"`` / ``"top"`` (slabs of nodes
within a fraction of the extent from the lowest / highest coordinate along an axis),
``"anchors"`` (``node_attrs["anchor"]``), ``"boundary"`` (nodes near the bounding-box faces
perpendicular to the axis), ``"center"`` (the node nearest the bounding-box centre), or
explicit node index lists. Prescribed DOFs (supports and displacement control) are
eliminated; the reduced system is solved with a sparse direct solver (SuperLU) when small
and with conjugate gradients preconditioned by pyamg smoothed aggregation when large.
Mechanisms and singular systems raise :class:`~araneus.errors.SolverError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from ..errors import InputError, SolverError
from ..web import WebGraph

AXES = {"x": 0, "y": 1, "z": 2}
#: Largest reduced system solved with the sparse direct solver by ``method="auto"``.
DIRECT_MAX_DOFS = 12_000


def axis_index(axis: str | int) -> int:
    """Index 0/1/2 of an axis given as ``"x"``, ``"y"``, ``"z"`` or an int."""
    if isinstance(axis, (int, np.integer)) and 0 <= int(axis) <= 2:
        return int(axis)
    if isinstance(axis, str) and axis.lower() in AXES:
        return AXES[axis.lower()]
    raise InputError(f"axis must be x, y or z, got {axis!r}")


def region_nodes(
    web: WebGraph, region: str | np.ndarray | list[int], axis: str | int = "z", frac: float = 0.05
) -> np.ndarray:
    """Node indices of a named region (see module docstring) or of an explicit list.

    Parameters
    ----------
    web
        The structure.
    region
        ``"bottom"``, ``"top"``, ``"anchors"``, ``"boundary"``, ``"center"``, ``"all"``, or a
        sequence of node indices.
    axis
        Axis of the slabs ("x", "y" or "z").
    frac
        Slab thickness as a fraction of the extent along ``axis`` (0 < frac < 1).

    Raises
    ------
    InputError
        Unknown region name, out-of-range indices, or a region that holds no node.
    """
    ax = axis_index(axis)
    if not (np.isfinite(frac) and 0 < frac < 1):
        raise InputError(f"region fraction must be in (0, 1), got {frac!r}")
    if isinstance(region, str):
        name = region.lower()
        coord = web.pos[:, ax] if web.n_nodes else np.zeros(0)
        lo, hi = (coord.min(), coord.max()) if web.n_nodes else (0.0, 0.0)
        tol = frac * (hi - lo)
        if name == "bottom":
            nodes = np.flatnonzero(coord <= lo + tol)
        elif name == "top":
            nodes = np.flatnonzero(coord >= hi - tol)
        elif name == "all":
            nodes = np.arange(web.n_nodes)
        elif name == "anchors":
            anchor = web.node_attrs.get("anchor")
            nodes = np.zeros(0, np.int64) if anchor is None else np.flatnonzero(anchor)
        elif name == "boundary":
            others = [a for a in range(3) if a != ax]
            blo, bhi = web.bbox()
            sel = np.zeros(web.n_nodes, bool)
            for a in others:
                t = frac * (bhi[a] - blo[a])
                if t > 0:
                    sel |= (web.pos[:, a] <= blo[a] + t) | (web.pos[:, a] >= bhi[a] - t)
            nodes = np.flatnonzero(sel)
        elif name == "center":
            blo, bhi = web.bbox()
            d = np.linalg.norm(web.pos - (blo + bhi) / 2, axis=1)
            nodes = np.array([int(np.argmin(d))]) if web.n_nodes else np.zeros(0, np.int64)
        else:
            raise InputError(
                f"unknown region {region!r}; valid: bottom, top, anchors, boundary, center, "
                "all, or a list of node indices"
            )
        if len(nodes) == 0:
            raise InputError(f"region {region!r} (axis {'xyz'[ax]}) contains no node")
        return nodes.astype(np.int64)
    nodes = np.unique(np.asarray(region, dtype=np.int64).ravel())
    if len(nodes) == 0:
        raise InputError("node list region is empty")
    if nodes.min() < 0 or nodes.max() >= web.n_nodes:
        raise InputError(f"region node indices must be in 0..{web.n_nodes - 1}")
    return nodes


@dataclass
class LinearResult:
    """Solution of a linear static problem.

    Attributes
    ----------
    u
        (N, ndof) nodal displacements [mm] (and rotations [rad] for frames).
    reactions
        (N, ndof) reaction forces [N] (moments [N mm]) at prescribed DOFs, zero elsewhere.
    method
        ``"direct"`` or ``"amg-cg"``; ``iterations`` for CG (0 for direct).
    """

    u: np.ndarray
    reactions: np.ndarray
    method: str
    iterations: int = 0


def check_supported(edges: np.ndarray, n_nodes: int, fixed_nodes: np.ndarray) -> None:
    """Raise :class:`SolverError` if a connected part of the structure has no support."""
    if len(fixed_nodes) == 0:
        raise SolverError("no supports: the structure can move as a rigid body")
    adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_nodes, n_nodes))
    nc, labels = csgraph.connected_components(adj, directed=False)
    member_nodes = np.zeros(n_nodes, bool)
    member_nodes[edges.ravel()] = True
    supported = np.zeros(nc, bool)
    supported[labels[fixed_nodes]] = True
    bad = np.unique(labels[member_nodes & ~supported[labels]])
    if len(bad):
        sizes = np.bincount(labels)[bad]
        raise SolverError(
            f"{len(bad)} connected part(s) of the structure have no support (rigid-body "
            f"motion), sizes {sizes[:5].tolist()} nodes; support them or keep only the "
            "supported component (WebGraph.components)"
        )


def free_submatrix(kmat: sp.spmatrix, free: np.ndarray, ndof: int) -> sp.spmatrix:
    """``K[free][:, free]``. A BSR matrix with ``ndof x ndof`` node blocks stays BSR
    (sliced block-wise, no scalar copy) when the free DOFs come in whole nodes; any
    other input is sliced as CSR. ``free``: boolean mask or index array of free DOFs."""
    free = np.asarray(free).reshape(-1)
    if free.dtype != bool:
        mask = np.zeros(kmat.shape[0], bool)
        mask[free] = True
        free = mask
    if kmat.format == "bsr" and kmat.blocksize == (ndof, ndof):
        fn = free.reshape(-1, ndof)
        node_free = fn[:, 0]
        if (fn.all(axis=1) | ~fn.any(axis=1)).all():
            nb = len(node_free)
            new = np.cumsum(node_free) - 1
            rows = np.repeat(np.arange(nb), np.diff(kmat.indptr))
            keep = node_free[rows] & node_free[kmat.indices]
            r = new[rows[keep]]
            nf = int(node_free.sum())
            indptr = np.r_[0, np.cumsum(np.bincount(r, minlength=nf))]
            shape = (nf * ndof, nf * ndof)
            return sp.bsr_matrix((kmat.data[keep], new[kmat.indices[keep]], indptr), shape=shape)
    return kmat.tocsr()[free][:, free]


def _scaled(kff: sp.spmatrix) -> tuple[sp.spmatrix, np.ndarray]:
    """Symmetric diagonal scaling ``S K S`` to unit diagonal (CSR or BSR kept)."""
    diag = kff.diagonal()
    if (diag <= 0).any() or not np.isfinite(diag).all():
        k = int(np.flatnonzero(~(diag > 0))[0])
        raise SolverError(
            f"free DOF {k} of the reduced system has no stiffness (a mechanism, e.g. an "
            "unbraced pin joint or a node with no members)"
        )
    s = 1.0 / np.sqrt(diag)
    if kff.format == "bsr":
        br, bc = kff.blocksize
        rows = np.repeat(np.arange(kff.shape[0] // br), np.diff(kff.indptr))
        sr, sc = s.reshape(-1, br), s.reshape(-1, bc)
        data = kff.data * sr[rows][:, :, None] * sc[kff.indices][:, None, :]
        a = sp.bsr_matrix((data, kff.indices.copy(), kff.indptr.copy()), shape=kff.shape)
        return a, s
    a = sp.csr_matrix(kff, copy=True)
    rows = np.repeat(np.arange(a.shape[0]), np.diff(a.indptr))
    a.data *= s[rows] * s[a.indices]
    return a, s


def rigid_body_modes(pos: np.ndarray, ndof: int) -> np.ndarray:
    """(N ndof, 3 or 6) rigid-body translations and rotations of nodes at ``pos``."""
    n = len(pos)
    modes = np.zeros((n, ndof, 6))
    for a in range(3):
        modes[:, a, a] = 1.0
        axis = np.eye(3)[a]
        modes[:, :3, 3 + a] = np.cross(axis, pos - pos.mean(axis=0))
        if ndof == 6:
            modes[:, 3 + a, 3 + a] = 1.0
    return modes.reshape(n * ndof, 6)


class _RowSplit:
    """Matrix-vector product of a CSR/BSR matrix split into row slabs multiplied on
    worker threads (scipy's sparse kernels release the GIL). Sparse products are
    memory-bound, so two threads give about 1.3-1.5x on two cores."""

    def __init__(self, a: sp.spmatrix, parts: int):
        self.a = a
        self.parts = []
        if parts > 1 and a.format in ("csr", "bsr"):
            rb = a.blocksize[0] if a.format == "bsr" else 1
            nrow = a.shape[0] // rb
            cuts = np.searchsorted(a.indptr, np.linspace(0, a.indptr[-1], parts + 1)[1:-1])
            bounds = [0, *np.unique(np.clip(cuts, 1, nrow - 1)).tolist(), nrow]
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                p0, p1 = a.indptr[lo], a.indptr[hi]
                args = (a.data[p0:p1], a.indices[p0:p1], a.indptr[lo : hi + 1] - p0)
                shape = ((hi - lo) * rb, a.shape[1])
                self.parts.append((a.__class__)(args, shape=shape))
        if len(self.parts) > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(len(self.parts))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(self.parts) < 2:
            return self.a @ x
        futures = [self.pool.submit(p.__matmul__, x) for p in self.parts]
        return np.concatenate([f.result() for f in futures])

    def close(self) -> None:
        if len(self.parts) > 1:
            self.pool.shutdown()


def _chebyshev(matvec, x: np.ndarray, b: np.ndarray, coef: np.ndarray, zero: bool) -> None:
    """pyamg's polynomial smoother ``x += p(A) (b - A x)`` with a given matvec."""
    r = b if zero else b - matvec(x)
    h = coef[0] * r
    for c in coef[1:]:
        h = c * r + matvec(h)
    x += h


def _v_cycle(ml, lvl: int, b: np.ndarray, fine=None) -> np.ndarray:
    """One V-cycle of a pyamg hierarchy from a zero guess (symmetric: forward pre-,
    backward post-smoothing). Leaner than ``ml.aspreconditioner()``, which also computes
    two residual norms on the finest level per application. ``fine``: optional
    (matvec, chebyshev coefficients) used on the finest level instead of pyamg's."""
    levels = ml.levels
    if lvl == len(levels) - 1:
        return ml.coarse_solver(levels[-1].A, b)
    level = levels[lvl]
    x = np.zeros_like(b)
    if lvl == 0 and fine is not None:
        matvec, coef = fine
        _chebyshev(matvec, x, b, coef, zero=True)
        xc = _v_cycle(ml, 1, level.R @ (b - matvec(x)))
        x += level.P @ xc
        _chebyshev(matvec, x, b, coef, zero=False)
        return x
    level.presmoother(level.A, x, b)
    xc = _v_cycle(ml, lvl + 1, level.R @ (b - level.A @ x))
    x += level.P @ xc
    level.postsmoother(level.A, x, b)
    return x


def sparse_lu(a: sp.spmatrix) -> spla.SuperLU:
    """SuperLU factors of a symmetric matrix: minimum-degree ordering on A^T + A and
    diagonal pivots (about twice as fast as the default COLAMD for 3-D frames); falls
    back to partial pivoting if a diagonal pivot is zero."""
    csc = sp.csc_matrix(a)
    try:
        return spla.splu(
            csc,
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
    except RuntimeError:
        return spla.splu(csc, permc_spec="COLAMD")


def solve_spd(
    kff: sp.spmatrix,
    rhs: np.ndarray,
    method: str = "auto",
    rtol: float = 1e-9,
    near_nullspace: np.ndarray | None = None,
    blocksize: int = 1,
) -> tuple[np.ndarray, str, int]:
    """Solve a symmetric positive definite system; detect singular systems.

    The system is scaled to unit diagonal first (so pivot sizes are comparable across
    translational and rotational DOFs). ``method``: ``"direct"`` (SuperLU), ``"amg-cg"``
    (CG with pyamg smoothed-aggregation preconditioner), or ``"auto"`` (direct up to
    :data:`DIRECT_MAX_DOFS` DOFs). ``near_nullspace`` (n, k) (e.g. rigid-body modes of the
    free DOFs) and ``blocksize`` (DOFs per node) improve the AMG hierarchy.
    """
    if method not in ("auto", "direct", "amg-cg"):
        raise InputError(f"method must be auto, direct or amg-cg, got {method!r}")
    n = kff.shape[0]
    if n == 0:
        return np.zeros(0), "direct", 0
    a, s = _scaled(kff)
    b = rhs * s
    if method == "direct" or (method == "auto" and n <= DIRECT_MAX_DOFS):
        try:
            lu = sparse_lu(a)
        except RuntimeError as exc:
            raise SolverError(f"singular stiffness matrix (mechanism): {exc}") from None
        piv = np.abs(lu.U.diagonal())
        if piv.min() < 1e-11 * piv.max():
            raise SolverError(
                "near-singular stiffness matrix (a mechanism: the structure can deform "
                f"without resistance; smallest/largest pivot {piv.min() / piv.max():.1e})"
            )
        y = lu.solve(b)
        used, its = "direct", 0
    else:
        import pyamg

        bmat = None if near_nullspace is None else near_nullspace / s[:, None]
        amat = a
        if blocksize > 1 and (a.format != "bsr" or a.blocksize != (blocksize, blocksize)):
            amat = a.tobsr(blocksize=(blocksize, blocksize))
        from pyamg.relaxation.chebyshev import chebyshev_polynomial_coefficients
        from pyamg.util.linalg import approximate_spectral_radius

        # The scaled matrix has a unit diagonal, so Richardson prolongation smoothing
        # equals Jacobi smoothing, and both it and the Chebyshev smoother read one
        # spectral radius, estimated once by 12 Lanczos steps (pyamg caches it on the
        # matrix as ``rho``); about 0.8 s less set-up than pyamg's defaults at 130k DOF.
        amat.rho = approximate_spectral_radius(amat, maxiter=12, restart=0)
        # degree-2 Chebyshev: symmetric, matvec-only; fewer CPU seconds than Gauss-Seidel
        degree = 2
        smoother = ("chebyshev", {"degree": degree})
        ml = pyamg.smoothed_aggregation_solver(
            amat,
            B=bmat,
            symmetry="symmetric",
            max_coarse=300,
            coarse_solver="splu",
            improve_candidates=None,
            smooth="richardson",
            presmoother=smoother,
            postsmoother=smoother,
        )
        # the finest level (almost all the work) multiplies on two threads, with the
        # Chebyshev coefficients of pyamg's setup_chebyshev
        fine_a = ml.levels[0].A
        rho = approximate_spectral_radius(fine_a)
        coef = -chebyshev_polynomial_coefficients(rho / 30.0, rho * 1.1, degree)[:-1]
        threads = _RowSplit(fine_a, 2 if (os.cpu_count() or 1) > 1 else 1)
        fine = (threads, coef)
        m = spla.LinearOperator(amat.shape, matvec=lambda r: _v_cycle(ml, 0, r, fine), dtype=float)
        op = spla.LinearOperator(amat.shape, matvec=threads, dtype=float)
        count = [0]

        def cb(_x: np.ndarray) -> None:
            count[0] += 1

        # BLAS threads (dot products inside CG) spin between calls and would steal the
        # core that the second matvec thread needs: keep BLAS single-threaded here
        from threadpoolctl import threadpool_limits

        try:
            with threadpool_limits(limits=1, user_api="blas"):
                y, info = spla.cg(op, b, rtol=rtol, maxiter=2000, M=m, callback=cb)
        finally:
            threads.close()
        if info != 0:
            raise SolverError(
                f"conjugate gradients did not converge in {count[0]} iterations: the "
                "structure is probably a mechanism or extremely ill-conditioned"
            )
        used, its = "amg-cg", count[0]
    res = np.linalg.norm(a @ y - b)
    if not np.isfinite(y).all() or res > 1e-6 * max(np.linalg.norm(b), 1e-300):
        raise SolverError(
            f"linear solve failed (relative residual {res / max(np.linalg.norm(b), 1e-300):.1e}):"
            " the structure is a mechanism or ill-conditioned"
        )
    return y * s, used, its


def solve_linear(
    kmat: sp.csr_matrix,
    ndof: int,
    fixed: np.ndarray,
    prescribed: np.ndarray | None = None,
    loads: np.ndarray | None = None,
    method: str = "auto",
    pos: np.ndarray | None = None,
) -> LinearResult:
    """Solve ``K u = f`` with prescribed DOFs eliminated.

    Parameters
    ----------
    kmat
        (ndof N, ndof N) assembled stiffness (CSR, or BSR with ndof x ndof node blocks).
    ndof
        DOFs per node (3 truss, 6 frame).
    fixed
        Boolean (N, ndof) mask of prescribed DOFs.
    prescribed
        (N, ndof) prescribed values at ``fixed`` DOFs [mm or rad]; zeros if None.
    loads
        (N, ndof) external nodal forces [N] (moments [N mm]); zeros if None.
    method
        See :func:`solve_spd`.
    pos
        (N, 3) node positions; when given, rigid-body modes guide the AMG preconditioner.
    """
    n = kmat.shape[0] // ndof
    fixed = np.asarray(fixed, bool).reshape(-1)
    if fixed.size != n * ndof:
        raise InputError(f"fixed must have shape ({n}, {ndof})")
    if not fixed.any():
        raise SolverError("no supports: the structure can move as a rigid body")
    up = np.zeros(n * ndof) if prescribed is None else np.asarray(prescribed, float).reshape(-1)
    f = np.zeros(n * ndof) if loads is None else np.asarray(loads, float).reshape(-1)
    if not (np.isfinite(up).all() and np.isfinite(f).all()):
        raise InputError("loads and prescribed displacements must be finite")
    free = ~fixed
    u = np.where(fixed, up, 0.0)
    kff = free_submatrix(kmat, free, ndof)
    rhs = f[free] - (kmat @ np.where(fixed, up, 0.0))[free]
    whole = fixed.reshape(n, ndof).all(axis=1) | (~fixed.reshape(n, ndof)).all(axis=1)
    bmat, block = None, 1
    if pos is not None and whole.all():  # free DOFs come in whole nodes: use node blocks
        bmat = rigid_body_modes(np.asarray(pos, float), ndof)[free]
        block = ndof
    uf, used, its = solve_spd(kff, rhs, method, near_nullspace=bmat, blocksize=block)
    u[free] = uf
    reac = np.where(fixed, kmat @ u - f, 0.0)
    return LinearResult(u.reshape(n, ndof), reac.reshape(n, ndof), used, its)
