"""Linear static analysis of webs as 3-D frames (fused joints) or trusses (pin joints)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .elements import (
    check_members,
    circular_section,
    frame_local_stiffness,
    frame_stiffness,
    local_axes,
    truss_stiffness,
)
from .solve import LinearResult, check_supported, solve_linear


@dataclass
class MemberForces:
    """Per-member results of a linear analysis.

    Attributes
    ----------
    axial
        (M,) axial force [N], tension positive.
    axial_stress
        (M,) axial stress N/A [MPa].
    max_stress
        (M,) largest fibre stress magnitude |N|/A + |M| r / I over both ends [MPa]
        (equals |axial_stress| for trusses).
    """

    axial: np.ndarray
    axial_stress: np.ndarray
    max_stress: np.ndarray


def member_forces(
    pos: np.ndarray,
    edges: np.ndarray,
    u: np.ndarray,
    E: float | np.ndarray,
    G: float | np.ndarray,
    diameter: float | np.ndarray,
) -> MemberForces:
    """End forces of frame (u of shape (N, 6)) or truss (u of shape (N, 3)) members."""
    pos = np.asarray(pos, float)
    edges = np.asarray(edges, np.int64)
    vec = pos[edges[:, 1]] - pos[edges[:, 0]]
    L = np.linalg.norm(vec, axis=1)
    A, Iz, J = circular_section(np.broadcast_to(diameter, L.shape))
    E = np.broadcast_to(np.asarray(E, float), L.shape)
    rot = local_axes(vec)
    if u.shape[1] == 3:
        du = u[edges[:, 1]] - u[edges[:, 0]]
        axial = E * A / L * np.einsum("mk,mk->m", du, rot[:, 0])
        s = axial / A
        return MemberForces(axial, s, np.abs(s))
    d = u[edges].reshape(len(edges), 4, 3)  # global (ui, ri, uj, rj)
    d_loc = np.einsum("mij,mbj->mbi", rot, d).reshape(len(edges), 12)
    k = frame_local_stiffness(L, E, np.broadcast_to(np.asarray(G, float), L.shape), A, Iz, J)
    f = np.einsum("mij,mj->mi", k, d_loc)
    axial = f[:, 6]
    m_i = np.hypot(f[:, 4], f[:, 5])
    m_j = np.hypot(f[:, 10], f[:, 11])
    r = np.broadcast_to(np.asarray(diameter, float), L.shape) / 2
    s = axial / A
    return MemberForces(axial, s, np.abs(s) + np.maximum(m_i, m_j) * r / Iz)


def analyze_linear(
    pos: np.ndarray,
    edges: np.ndarray,
    *,
    E: float | np.ndarray,
    diameter: float | np.ndarray,
    fixed_nodes: np.ndarray,
    loads: np.ndarray | None = None,
    prescribed: dict[int, np.ndarray] | None = None,
    nu: float = 0.3,
    kind: str = "frame",
    method: str = "auto",
) -> tuple[LinearResult, MemberForces]:
    """Linear static analysis of a frame or truss.

    Parameters
    ----------
    pos, edges
        (N, 3) node positions [mm], (M, 2) member node pairs.
    E, diameter
        Young's modulus [MPa] and strut diameter [mm], scalars or (M,).
    fixed_nodes
        Indices of fully fixed nodes (all DOFs; rotations too for frames).
    loads
        (N, 3) nodal forces [N] or (N, 6) forces and moments [N, N mm] for frames.
    prescribed
        Optional {node: (3,) displacement [mm]} applied to translational DOFs of those
        nodes (displacement control); their rotations are held fixed in frames.
    nu
        Poisson's ratio, giving ``G = E / (2 (1 + nu))``.
    kind
        ``"frame"`` (6 DOF per node, fused joints) or ``"truss"`` (3 DOF, pin joints).
    method
        Linear solver, see :func:`araneus.mechanics.solve.solve_spd`.
    """
    if kind not in ("frame", "truss"):
        raise InputError(f"kind must be 'frame' or 'truss', got {kind!r}")
    if not (np.isfinite(nu) and -1 < nu < 0.5):
        raise InputError(f"Poisson's ratio nu must be in (-1, 0.5), got {nu!r}")
    e_arr = np.asarray(E, float)
    if not (np.isfinite(e_arr).all() and (e_arr > 0).all()):
        raise InputError(f"Young's modulus E must be positive and finite, got {E!r}")
    pos = np.asarray(pos, float)
    edges = np.asarray(edges, np.int64)
    check_members(pos, edges, diameter)
    n = len(pos)
    ndof = 6 if kind == "frame" else 3
    G = e_arr / (2 * (1 + nu))
    fixed_nodes = np.asarray(fixed_nodes, np.int64).ravel()
    prescribed = prescribed or {}
    support = np.union1d(fixed_nodes, np.fromiter(prescribed, np.int64, len(prescribed)))
    check_supported(edges, n, support)
    fixed = np.zeros((n, ndof), bool)
    fixed[support] = True
    isolated = np.ones(n, bool)
    isolated[edges.ravel()] = False
    fixed[isolated] = True  # nodes without members: held in place
    up = np.zeros((n, ndof))
    for node, disp in prescribed.items():
        up[node, :3] = np.asarray(disp, float)
    f = np.zeros((n, ndof))
    if loads is not None:
        ld = np.asarray(loads, float)
        if ld.shape not in ((n, 3), (n, ndof)):
            raise InputError(f"loads must have shape ({n}, 3) or ({n}, {ndof}), got {ld.shape}")
        f[:, : ld.shape[1]] = ld
        if (np.abs(ld[isolated]) > 0).any():
            raise InputError("loads are applied to nodes that have no members")
    if kind == "frame":
        kmat = frame_stiffness(pos, edges, e_arr, G, diameter)
    else:
        kmat = truss_stiffness(pos, edges, e_arr, diameter)
    res = solve_linear(kmat, ndof, fixed, up, f, method, pos=pos)
    forces = member_forces(pos, edges, res.u, e_arr, G, diameter)
    return res, forces
