"""Condensed stiffness of a block-diagonal tangent: many webs' tests in one sparse solve."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import SolverError
from .batched import seg_max, seg_sum


def condensed_stiffness(
    kt: sp.spmatrix,
    prescribed: np.ndarray,
    patterns: np.ndarray,
    dof_piece: np.ndarray,
    n_pieces: int,
    nodes: np.ndarray | None = None,
    ndof: int = 3,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Grip stiffness of prescribed displacement patterns, and Schur complements onto
    single nodes, for every web of a block-diagonal tangent at once.

    Parameters
    ----------
    kt
        (D, D) tangent of the union (D = N * ndof), block-diagonal over the webs.
    prescribed
        (D,) bool: DOFs held or driven (the others are free).
    patterns
        (D, T) prescribed displacement patterns (0 on free DOFs): for each, the energy
        ``2 W = u^T K u`` of the response ``u`` (pattern on the prescribed DOFs,
        equilibrium on the free ones) is returned per web. A rigid grip moved by a unit
        displacement gives the grip stiffness [N/mm], as
        :func:`araneus.mechanics.nonlinear.tangent_stiffness` does.
    dof_piece
        (D,) web of each DOF.
    nodes
        Optional (P,) node per web (-1: none) whose DOFs are free: the tangent condensed
        onto that node with everything else prescribed held is returned as (P, ndof, ndof)
        (its inverse is the node's block of ``K_ff^-1``).

    The free block gets the diagonal floor of ``tangent_stiffness`` (1e-12 of each web's
    largest free diagonal entry), and is solved by one sparse LU of the symmetrically
    scaled matrix.
    """
    k = kt.tocsr()
    n = int(n_pieces)
    free = ~prescribed
    fidx = np.flatnonzero(free)
    kff = k[fidx][:, fidx]
    diag = np.abs(kff.diagonal())
    fpiece = dof_piece[fidx]
    top = seg_max(diag, fpiece, n, empty=0.0)
    floor = 1e-12 * np.maximum(top, 1e-300)[fpiece]
    scale = 1.0 / np.sqrt(np.maximum(diag, floor))
    shifted = kff + sp.diags(floor)
    cols = [-(k @ patterns)[fidx]]
    want = None
    if nodes is not None:
        want = np.flatnonzero(nodes >= 0)
        dofs = nodes[want][:, None] * ndof + np.arange(ndof)  # (W, ndof) global DOFs
        pos_in_free = np.full(k.shape[0], -1)
        pos_in_free[fidx] = np.arange(len(fidx))
        rows = pos_in_free[dofs]
        if (rows < 0).any():
            raise SolverError("a condensation node is held")
        unit = np.zeros((len(fidx), ndof))
        unit[rows, np.arange(ndof)[None, :]] = 1.0
        cols.append(unit)
    rhs = np.column_stack(cols)
    out_k = np.zeros((n, patterns.shape[1]))
    out_node = None
    if len(fidx):
        scaled = (sp.diags(scale) @ shifted @ sp.diags(scale)).tocsc()
        lu = spla.splu(scaled)
        sol = scale[:, None] * lu.solve(scale[:, None] * rhs)
    else:
        sol = np.zeros((0, rhs.shape[1]))
    t = patterns.shape[1]
    full = patterns.astype(np.float64).copy()
    full[fidx] = sol[:, :t]
    react = k @ full
    for j in range(t):  # u^T K u: stationary in the free part, so round-off enters squared
        out_k[:, j] = seg_sum(full[:, j] * react[:, j], dof_piece, n)
    if nodes is not None:
        out_node = np.full((n, ndof, ndof), np.nan)
        flex = sol[rows.ravel(), t:].reshape(len(want), ndof, ndof)  # node blocks of K_ff^-1
        # the node's own floor is not in the tangent_stiffness of a test driving it
        out_node[want] = np.linalg.inv(flex) - floor[rows][:, :, None] * np.eye(ndof)
    return out_k, out_node
