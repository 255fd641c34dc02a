"""Attachment points and the joined batch of webs of the mechanical descriptors.

A piece cut out of a web was held by the rest of the web where its threads were cut;
:func:`attachment_points` finds those places from the geometry alone (see
:mod:`araneus.mechanics.descriptors` for the rule and why), :class:`Union` joins many webs
into one graph for the batched analysis, and :func:`piece_tests` gathers what every
descriptor test of a web needs (normal, bounding box, mass, held nodes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..web import THREAD_CODE, WebGraph
from .materials import VISCID_THREADS
from .virtual import DEFAULT_STRUT, DEFAULT_STRUT_PRINTED

#: A node is an attachment point when its threads cannot balance to within this fraction
#: of one thread's tension (0.5: a two-thread node turning by more than 60 degrees).
ATTACHMENT_IMBALANCE = 0.5


# ------------------------------------------------------------------------- the union
@dataclass
class Union:
    """Webs joined into one graph: ``pos`` (N, 3), ``edges`` (E, 2), ``node_piece`` (N,),
    ``anchor`` (N,) bool, per-edge ``diameter``, ``q0`` (force densities, NaN where the
    web has none) and ``viscid`` (thread types); ``n`` webs."""

    pos: np.ndarray
    edges: np.ndarray
    node_piece: np.ndarray
    anchor: np.ndarray
    diameter: np.ndarray
    q0: np.ndarray
    viscid: np.ndarray
    n: int

    @property
    def edge_piece(self) -> np.ndarray:
        return self.node_piece[self.edges[:, 0]]

    @classmethod
    def from_webs(cls, webs: Sequence[WebGraph], material: str, strut: float | None) -> Union:
        """Join ``webs``; diameters from ``strut``, each web's ``diameter`` attribute, or
        the material's default."""
        pos, edges, piece, anchor, diam, q0, visc = [], [], [], [], [], [], []
        off = 0
        default = DEFAULT_STRUT.get(material, DEFAULT_STRUT_PRINTED)
        for i, w in enumerate(webs):
            if not isinstance(w, WebGraph):
                raise InputError(f"webs[{i}] must be a WebGraph, got {type(w).__name__}")
            pos.append(w.pos)
            edges.append(w.edges + off)
            piece.append(np.full(w.n_nodes, i, np.int64))
            a = w.node_attrs.get("anchor")
            anchor.append(np.zeros(w.n_nodes, bool) if a is None else np.asarray(a, bool))
            if strut is not None:
                d = np.full(w.n_edges, float(strut))
            elif "diameter" in w.edge_attrs:
                d = np.asarray(w.edge_attrs["diameter"], np.float64)
            else:
                d = np.full(w.n_edges, default)
            diam.append(d)
            fd = w.edge_attrs.get("force_density")
            q0.append(np.full(w.n_edges, np.nan) if fd is None else np.asarray(fd, np.float64))
            codes = w.edge_attrs.get("thread")
            visc.append(
                np.zeros(w.n_edges, bool)
                if codes is None
                else np.isin(
                    np.asarray(codes).astype(int), [THREAD_CODE[t] for t in VISCID_THREADS]
                )
            )
            off += w.n_nodes
        u = cls(*(np.concatenate(x) if x else np.zeros(0) for x in (pos, edges, piece, anchor,
                                                                    diam, q0, visc)), len(webs))  # fmt: skip
        u.pos = u.pos.reshape(-1, 3).astype(np.float64)
        u.edges = u.edges.reshape(-1, 2).astype(np.int64)
        u.node_piece = u.node_piece.astype(np.int64)
        u.anchor, u.viscid = u.anchor.astype(bool), u.viscid.astype(bool)
        if not (np.isfinite(u.diameter).all() and (u.diameter > 0).all()):
            raise InputError(f"strut diameter must be positive and finite, got {strut!r}")
        return u

    @classmethod
    def from_padded(cls, pos, nbrs, mask, material: str, strut: float | None) -> Union:
        """Join the samples of padded dataset arrays: pos (S, L, 3), nbrs (S, L, K), mask
        (S, L) (no attributes: dragline silk, default diameters unless ``strut``)."""
        pos, nbrs, mask = np.asarray(pos), np.asarray(nbrs), np.asarray(mask, bool)
        s, length = mask.shape
        counts = mask.sum(1)
        off = np.r_[0, np.cumsum(counts)[:-1]]
        si, ri, ki = np.nonzero(nbrs >= 0)
        j = nbrs[si, ri, ki]
        keep = j > ri
        edges = np.stack([off[si[keep]] + ri[keep], off[si[keep]] + j[keep]], 1).astype(np.int64)
        p = pos[mask].astype(np.float64)
        d = (
            float(strut)
            if strut is not None
            else DEFAULT_STRUT.get(material, DEFAULT_STRUT_PRINTED)
        )
        if not (np.isfinite(d) and d > 0):
            raise InputError(f"strut diameter must be positive and finite, got {strut!r}")
        m = len(edges)
        return cls(p, edges, np.repeat(np.arange(s), counts), np.zeros(len(p), bool),
                   np.full(m, d), np.full(m, np.nan), np.zeros(m, bool), s)  # fmt: skip


# ---------------------------------------------------------------------- definitions
def thread_imbalance(pos: np.ndarray, edges: np.ndarray, iters: int = 300) -> np.ndarray:
    """(N,) smallest resultant of each node's unit thread directions under convex
    weights, ``min_{w >= 0, sum w = 1} |sum_j w_j u_j|``: 0 where the threads can balance
    one another, 1 at a loose end, ``cos(phi / 2)`` at a node of two threads meeting at
    angle ``phi``; 0 at a node without threads. Nodes of three or more threads: the
    minimum-norm point of the hull of their directions by accelerated projected gradient.
    """
    n = len(pos)
    out = np.zeros(n)
    if len(edges) == 0:
        return out
    a = np.r_[edges[:, 0], edges[:, 1]]
    b = np.r_[edges[:, 1], edges[:, 0]]
    vec = pos[b] - pos[a]
    u = vec / np.maximum(np.linalg.norm(vec, axis=1), 1e-300)[:, None]
    order = np.argsort(a, kind="stable")
    a, u = a[order], u[order]
    deg = np.bincount(a, minlength=n)
    start = np.r_[0, np.cumsum(deg)[:-1]]
    out[deg == 1] = 1.0
    two = np.flatnonzero(deg == 2)
    out[two] = 0.5 * np.linalg.norm(u[start[two]] + u[start[two] + 1], axis=1)
    many = np.flatnonzero(deg >= 3)
    if len(many):
        kmax = int(deg[many].max())
        slot = np.arange(kmax)
        valid = slot[None, :] < deg[many][:, None]
        idx = np.where(valid, start[many][:, None] + slot[None, :], 0)
        U = np.where(valid[..., None], u[idx], 0.0)  # noqa: N806
        out[many] = _min_norm_hull(U, valid, iters)
    return out


def _min_norm_hull(U: np.ndarray, valid: np.ndarray, iters: int) -> np.ndarray:  # noqa: N803
    """Norm of the minimum-norm point of the convex hull of each row's vectors (FISTA)."""
    w = valid / valid.sum(1, keepdims=True)
    y, t = w.copy(), 1.0
    step = 1.0 / (2.0 * valid.sum(1, keepdims=True))  # 1 / Lipschitz bound of the gradient
    for _ in range(iters):
        r = np.einsum("nk,nkd->nd", y, U)
        grad = 2.0 * np.einsum("nkd,nd->nk", U, r)
        w_new = _simplex_projection(y - step * grad, valid)
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        y = w_new + (t - 1) / t_new * (w_new - w)
        done = np.abs(w_new - w).max() < 1e-12
        w, t = w_new, t_new
        if done:
            break
    return np.linalg.norm(np.einsum("nk,nkd->nd", w, U), axis=1)


def _simplex_projection(v: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row (its valid entries) onto the probability simplex."""
    big = np.where(valid, v, -np.inf)
    srt = -np.sort(-big, axis=1)
    fin = np.isfinite(srt)
    css = np.cumsum(np.where(fin, srt, 0.0), axis=1)
    k = np.arange(1, v.shape[1] + 1)
    cond = fin & (srt - (css - 1) / k > 0)
    rho = cond.sum(1)
    theta = (css[np.arange(len(v)), rho - 1] - 1) / rho
    return np.where(valid, np.maximum(v - theta[:, None], 0.0), 0.0)


@dataclass
class Tests:
    """The descriptor tests of a union: ``held`` (N,) attachment points, ``load_node``
    (P,) point-load node per web (-1: none; chosen later for silk), ``normal`` (P, 3),
    ``lo`` / ``span`` (P, 3) bounding box of each web, ``mass`` (P,) [g]."""

    held: np.ndarray
    normal: np.ndarray
    lo: np.ndarray
    span: np.ndarray
    mass: np.ndarray


def attachment_points(u: Union, imbalance: float = ATTACHMENT_IMBALANCE) -> np.ndarray:
    """(N,) bool: the attachment points of every web of ``u`` (module docstring)."""
    held = (thread_imbalance(u.pos, u.edges) > imbalance) | u.anchor
    count = np.bincount(u.node_piece[held], minlength=u.n)[: u.n]
    for p in np.flatnonzero(count < 2):
        nodes = np.flatnonzero(u.node_piece == p)
        if len(nodes):
            ext = np.r_[np.argmin(u.pos[nodes], 0), np.argmax(u.pos[nodes], 0)]
            held[nodes[ext]] = True
    return held


def piece_tests(u: Union, density: np.ndarray) -> Tests:
    """Attachment points, normals, bounding boxes and masses of every web of ``u``."""
    from .segments import seg_max, seg_sum

    n, npc = u.n, u.node_piece
    hi = np.stack([seg_max(u.pos[:, k], npc, n) for k in range(3)], 1)
    lo = -np.stack([seg_max(-u.pos[:, k], npc, n) for k in range(3)], 1)
    span = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
    cnt = np.maximum(np.bincount(npc, minlength=n)[:n], 1)
    mean = np.stack([seg_sum(u.pos[:, k], npc, n) for k in range(3)], 1) / cnt[:, None]
    x = u.pos - mean[npc]
    cov = np.zeros((n, 3, 3))
    np.add.at(cov, npc, x[:, :, None] * x[:, None, :])
    _, vecs = np.linalg.eigh(cov)
    normal = vecs[:, :, 0]
    length = np.linalg.norm(u.pos[u.edges[:, 1]] - u.pos[u.edges[:, 0]], axis=1)
    vol = np.pi * u.diameter**2 / 4 * length
    mass = density * seg_sum(vol, u.edge_piece, n) * 1e-6
    return Tests(attachment_points(u), normal, np.where(np.isfinite(lo), lo, 0.0), span, mass)


def load_nodes(pos, eligible, npc, n, tests: Tests) -> np.ndarray:
    """(P,) free node of each web nearest its bounding-box centre (-1 if none)."""
    centre = tests.lo + tests.span / 2
    d = np.linalg.norm(pos - centre[npc], axis=1)
    d = np.where(eligible, d, np.inf)
    order = np.lexsort((d, npc))
    first = np.r_[True, npc[order][1:] != npc[order][:-1]]
    out = np.full(n, -1, np.int64)
    pick = order[first]
    pick = pick[np.isfinite(d[pick])]
    out[npc[pick]] = pick
    return out
