"""Linear element stiffness of 3-D frames and trusses, vectorised over all members.

Units are whatever the caller uses consistently; araneus uses millimetres, newtons and
megapascals (N/mm^2) throughout, so stiffness is in N/mm and moments in N mm.

Frame members are Euler-Bernoulli beams with circular cross-sections (6 DOF per node:
ux, uy, uz, rx, ry, rz); truss members carry axial force only (3 DOF per node). Element
matrices are built for all members at once with numpy and assembled once into a
``scipy.sparse`` CSR matrix (COO triplets, duplicates summed).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import InputError


def circular_section(diameter: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area, second moment and polar moment of solid circular sections.

    Parameters
    ----------
    diameter
        (M,) diameters [mm].

    Returns
    -------
    A, I, J
        (M,) area [mm^2], second moment of area about any diameter ``pi d^4 / 64``
        [mm^4] and torsion constant ``pi d^4 / 32`` [mm^4].
    """
    d = np.asarray(diameter, dtype=np.float64)
    area = np.pi * d**2 / 4.0
    inertia = np.pi * d**4 / 64.0
    return area, inertia, 2.0 * inertia


def check_members(pos: np.ndarray, edges: np.ndarray, diameter: np.ndarray) -> np.ndarray:
    """Validate member geometry and sections; return member lengths (M,) [mm].

    Raises :class:`InputError` naming the first zero-length member or non-positive /
    non-finite diameter.
    """
    pos = np.asarray(pos, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.int64)
    if pos.ndim != 2 or pos.shape[1] != 3 or not np.isfinite(pos).all():
        raise InputError(f"pos must be a finite (N, 3) array, got shape {pos.shape}")
    if edges.ndim != 2 or edges.shape[1] != 2 or len(edges) == 0:
        raise InputError(f"edges must be a non-empty (E, 2) array, got shape {edges.shape}")
    if edges.min() < 0 or edges.max() >= len(pos):
        raise InputError("edges refer to nodes outside 0..N-1")
    d = np.broadcast_to(np.asarray(diameter, dtype=np.float64), (len(edges),))
    bad = ~(np.isfinite(d) & (d > 0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"diameter must be positive and finite; member {k} (nodes {edges[k, 0]}-"
            f"{edges[k, 1]}) has {d[k]!r} ({int(bad.sum())} bad members)"
        )
    lengths = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    scale = max(float(np.ptp(pos, axis=0).max()), 1e-300)
    short = lengths <= 1e-12 * scale
    if short.any():
        k = int(np.flatnonzero(short)[0])
        raise InputError(
            f"zero-length member {k} between nodes {edges[k, 0]} and {edges[k, 1]} "
            f"({int(short.sum())} such members); merge coincident nodes first "
            "(WebGraph.merge_close_nodes)"
        )
    return lengths


def local_axes(vec: np.ndarray) -> np.ndarray:
    """Orthonormal local frames of members.

    Parameters
    ----------
    vec
        (M, 3) member vectors (node i to node j).

    Returns
    -------
    (M, 3, 3) rotation matrices whose rows are the local x (along the member), y and z
    axes in global coordinates. The reference direction for local y is global z, or
    global x for members within about 25 degrees of vertical, so no member is ever
    parallel to its reference (robust for vertical members). For circular sections the
    choice does not change any displacement.
    """
    ex = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    ref = np.zeros_like(ex)
    steep = np.abs(ex[:, 2]) > 0.9
    ref[~steep, 2] = 1.0
    ref[steep, 0] = 1.0
    ey = np.cross(ref, ex)
    ey /= np.linalg.norm(ey, axis=1, keepdims=True)
    ez = np.cross(ex, ey)
    return np.stack([ex, ey, ez], axis=1)


def frame_local_stiffness(
    length: np.ndarray, E: np.ndarray, G: np.ndarray, A: np.ndarray, Iz: np.ndarray, J: np.ndarray
) -> np.ndarray:
    """Local 12x12 Euler-Bernoulli stiffness of circular-section beams, shape (M, 12, 12).

    DOF order per end: ux, uy, uz, rx, ry, rz (local axes); ``Iy = Iz`` (circular).
    """
    L = np.asarray(length, dtype=np.float64)
    m = len(L)
    k = np.zeros((m, 12, 12))
    ea = E * A / L
    gj = G * J / L
    b12, b6, b4, b2 = 12 * E * Iz / L**3, 6 * E * Iz / L**2, 4 * E * Iz / L, 2 * E * Iz / L
    for a, b, val in (
        (0, 0, ea), (0, 6, -ea), (6, 6, ea),
        (3, 3, gj), (3, 9, -gj), (9, 9, gj),
        # bending in local x-y plane (uy, rz)
        (1, 1, b12), (1, 5, b6), (1, 7, -b12), (1, 11, b6),
        (5, 5, b4), (5, 7, -b6), (5, 11, b2), (7, 7, b12), (7, 11, -b6), (11, 11, b4),
        # bending in local x-z plane (uz, ry)
        (2, 2, b12), (2, 4, -b6), (2, 8, -b12), (2, 10, -b6),
        (4, 4, b4), (4, 8, b6), (4, 10, b2), (8, 8, b12), (8, 10, b6), (10, 10, b4),
    ):  # fmt: skip
        k[:, a, b] = val
        k[:, b, a] = val
    return k


def rotate_blocks(k_local: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Transform (M, 3n, 3n) local matrices to global: ``T^T k T`` with T = blockdiag(R).

    Done blockwise (n x n blocks of 3x3) so the cost is O(M n^2 27), not O(M (3n)^4).
    """
    m, size, _ = k_local.shape
    nb = size // 3
    k5 = k_local.reshape(m, nb, 3, nb, 3)
    tmp = np.einsum("majbk,mkl->majbl", k5, rot, optimize=True)
    out = np.einsum("mji,majbl->maibl", rot, tmp, optimize=True)
    return out.reshape(m, size, size)


def _assemble(edges: np.ndarray, k_glob: np.ndarray, n_nodes: int, ndof: int) -> sp.bsr_matrix:
    """Sum (M, 2 ndof, 2 ndof) member matrices into a block-sparse (BSR) matrix.

    Node blocks are ``ndof x ndof``. Diagonal blocks are summed per node by one sparse
    incidence product; the two off-diagonal blocks of every member are sorted by (row
    node, column node) and only summed (``np.add.reduceat``) when members repeat. No
    scalar COO detour: several times faster than ``coo_matrix(...).tocsr()`` for frames.
    """
    m = len(edges)
    nn = ndof * ndof
    blk = k_glob.reshape(m, 2, ndof, 2, ndof)
    inc = sp.csr_matrix(
        (np.ones(2 * m), (edges.T.ravel(), np.arange(2 * m))), shape=(n_nodes, 2 * m)
    )
    diag = inc @ np.concatenate([blk[:, 0, :, 0].reshape(m, nn), blk[:, 1, :, 1].reshape(m, nn)])
    nodes = np.arange(n_nodes, dtype=np.int64)
    keys = np.concatenate(
        [
            nodes * (n_nodes + 1),
            edges[:, 0] * n_nodes + edges[:, 1],
            edges[:, 1] * n_nodes + edges[:, 0],
        ]
    )
    data = np.concatenate([diag, blk[:, 0, :, 1].reshape(m, nn), blk[:, 1, :, 0].reshape(m, nn)])
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    data = data[order]
    dup = keys[1:] == keys[:-1]
    if dup.any():
        starts = np.flatnonzero(np.r_[True, ~dup])
        data = np.add.reduceat(data, starts, axis=0)
        keys = keys[starts]
    indptr = np.r_[0, np.cumsum(np.bincount(keys // n_nodes, minlength=n_nodes))]
    n = n_nodes * ndof
    return sp.bsr_matrix((data.reshape(-1, ndof, ndof), keys % n_nodes, indptr), shape=(n, n))


def _skew(n: np.ndarray) -> np.ndarray:
    """(M, 3, 3) cross-product matrices [n]x of (M, 3) vectors."""
    z = np.zeros(len(n))
    return np.stack(
        [np.stack([z, -n[:, 2], n[:, 1]], 1), np.stack([n[:, 2], z, -n[:, 0]], 1),
         np.stack([-n[:, 1], n[:, 0], z], 1)], 1
    )  # fmt: skip


def frame_element_matrices(
    pos: np.ndarray,
    edges: np.ndarray,
    E: np.ndarray,
    G: np.ndarray,
    diameter: np.ndarray,
    axial: bool = True,
) -> np.ndarray:
    """Global 12x12 frame stiffness of every member, shape (M, 12, 12).

    For circular sections (Iy = Iz) the bending stiffness is isotropic about the member
    axis, so the rotated matrix ``T^T k T`` has a closed form in the axial projector
    ``P = n n^T``, the transverse projector ``Q = 1 - P`` and the cross-product matrix
    ``S = [n]x``: no local y/z axes are needed (exact for vertical members too). Equal to
    :func:`rotate_blocks` applied to :func:`frame_local_stiffness`. ``axial=False`` drops
    the axial term (bending and torsion only).
    """
    vec = pos[edges[:, 1]] - pos[edges[:, 0]]
    L = np.linalg.norm(vec, axis=1)
    n = vec / L[:, None]
    A, Iz, J = circular_section(np.broadcast_to(diameter, L.shape))
    E = np.broadcast_to(E, L.shape)
    G = np.broadcast_to(G, L.shape)
    P = n[:, :, None] * n[:, None, :]
    Q = np.eye(3) - P
    S = _skew(n)

    def c(x: np.ndarray) -> np.ndarray:
        return x[:, None, None]

    ea = E * A / L if axial else np.zeros_like(L)
    kuu = c(ea) * P + c(12 * E * Iz / L**3) * Q
    kur = -c(6 * E * Iz / L**2) * S  # force at u from rotation (same for both rotations)
    krr_ii = c(G * J / L) * P + c(4 * E * Iz / L) * Q
    krr_ij = -c(G * J / L) * P + c(2 * E * Iz / L) * Q
    kru = -kur  # transpose of a skew matrix
    k = np.empty((len(L), 12, 12))
    blocks = (
        (kuu, kur, -kuu, kur),
        (kru, krr_ii, -kru, krr_ij),
        (-kuu, -kur, kuu, -kur),
        (kru, krr_ij, -kru, krr_ii),
    )
    for a, row in enumerate(blocks):
        for b, blk in enumerate(row):
            k[:, 3 * a : 3 * a + 3, 3 * b : 3 * b + 3] = blk
    return k


def frame_stiffness(
    pos: np.ndarray,
    edges: np.ndarray,
    E: float | np.ndarray,
    G: float | np.ndarray,
    diameter: float | np.ndarray,
) -> sp.bsr_matrix:
    """Assembled global stiffness of a 3-D frame, (6N, 6N) BSR with 6x6 node blocks
    [N/mm, N, N mm] (``.tocsr()`` for row slicing).

    Parameters
    ----------
    pos, edges
        (N, 3) node positions [mm] and (M, 2) member node pairs.
    E, G
        Young's and shear moduli [MPa], scalars or (M,).
    diameter
        Strut diameters [mm], scalar or (M,).
    """
    pos = np.asarray(pos, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.int64)
    check_members(pos, edges, diameter)
    k = frame_element_matrices(pos, edges, np.asarray(E, float), np.asarray(G, float), diameter)
    return _assemble(edges, k, len(pos), 6)


def truss_element_matrices(pos: np.ndarray, edges: np.ndarray, ea: np.ndarray) -> np.ndarray:
    """Global 6x6 truss stiffness ``EA/L [nn^T, -nn^T; -nn^T, nn^T]`` per member (M, 6, 6)."""
    vec = pos[edges[:, 1]] - pos[edges[:, 0]]
    L = np.linalg.norm(vec, axis=1)
    n = vec / L[:, None]
    nn = (np.asarray(ea, float) / L)[:, None, None] * n[:, :, None] * n[:, None, :]
    return np.block([[nn, -nn], [-nn, nn]])


def truss_stiffness(
    pos: np.ndarray, edges: np.ndarray, E: float | np.ndarray, diameter: float | np.ndarray
) -> sp.bsr_matrix:
    """Assembled global stiffness of a pin-jointed truss, (3N, 3N) BSR with 3x3 node
    blocks [N/mm]."""
    pos = np.asarray(pos, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.int64)
    check_members(pos, edges, diameter)
    A, _, _ = circular_section(np.broadcast_to(diameter, (len(edges),)))
    k = truss_element_matrices(pos, edges, np.asarray(E, float) * A)
    return _assemble(edges, k, len(pos), 3)


def assemble(edges: np.ndarray, k_glob: np.ndarray, n_nodes: int, ndof: int) -> sp.bsr_matrix:
    """Assemble per-member global matrices (M, 2 ndof, 2 ndof) into a BSR matrix."""
    return _assemble(np.asarray(edges, np.int64), k_glob, n_nodes, ndof)
