"""Shared construction helpers: a thread draft that is split at junctions, and thread growth.

Builders describe a web the way a spider lays it: straight *threads* (segments between two
nodes) and *attachments* (a point part-way along an earlier thread where a later thread is
fixed). :class:`Draft` records both; :meth:`Draft.finish` splits every thread at its
attachment points (vectorised, one sort) so that each attachment becomes a junction node.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial.distance import cdist

from ..web import THREAD_TYPES, WebGraph, canonicalize_edges, thread_code
from .resample import resample
from .shaping import DEFAULT_FORCE_DENSITY


class Draft:
    """Mutable build state: node positions, threads and attachment points on threads.

    Parameters
    ----------
    min_spacing
        Smallest distance (mm) between two attachment points on one thread; attachment
        parameters are snapped to slots of this size so no junction is closer than about
        half of it to another junction or to the thread's ends.
    """

    def __init__(self, min_spacing: float = 0.5):
        self.min_spacing = float(min_spacing)
        self._pos: list[np.ndarray] = []
        self._n = 0
        self._seg: list[np.ndarray] = []
        self._seg_type: list[np.ndarray] = []
        self._ns = 0
        self._att_seg: list[np.ndarray] = []
        self._att_t: list[np.ndarray] = []
        self._att_node: list[np.ndarray] = []
        self._slots: dict[int, int] = {}  # (seg * 2**20 + slot) -> node
        self._slot_uses: dict[int, int] = {}
        self._anchor: list[np.ndarray] = []

    # ----------------------------------------------------------------- accessors
    @property
    def pos(self) -> np.ndarray:
        """All node positions so far, (N, 3)."""
        if len(self._pos) > 1:
            self._pos = [np.concatenate(self._pos)]
        return self._pos[0] if self._pos else np.zeros((0, 3))

    def segments(self) -> tuple[np.ndarray, np.ndarray]:
        """Threads so far: endpoint node ids (S, 2) and int8 thread codes (S,)."""
        if len(self._seg) > 1:
            self._seg = [np.concatenate(self._seg)]
            self._seg_type = [np.concatenate(self._seg_type)]
        if not self._seg:
            return np.zeros((0, 2), np.int64), np.zeros(0, np.int8)
        return self._seg[0], self._seg_type[0]

    # ----------------------------------------------------------------- building
    def add_nodes(self, p: np.ndarray, anchor: bool | np.ndarray = False) -> np.ndarray:
        """Add nodes at positions ``p`` (M, 3); return their ids (M,)."""
        p = np.asarray(p, dtype=np.float64).reshape(-1, 3)
        ids = np.arange(self._n, self._n + len(p))
        self._pos.append(p)
        self._anchor.append(np.broadcast_to(np.asarray(anchor, bool), (len(p),)).copy())
        self._n += len(p)
        return ids

    def add_segments(self, a: np.ndarray, b: np.ndarray, thread: str) -> np.ndarray:
        """Add threads from nodes ``a`` to nodes ``b`` (equal-length int arrays); return ids."""
        a = np.asarray(a, np.int64).ravel()
        b = np.asarray(b, np.int64).ravel()
        keep = a != b
        a, b = a[keep], b[keep]
        ids = np.arange(self._ns, self._ns + len(a))
        self._seg.append(np.stack([a, b], axis=1))
        self._seg_type.append(np.full(len(a), thread_code(thread), np.int8))
        self._ns += len(a)
        return ids

    def attach_exact(self, seg: np.ndarray, t: np.ndarray, nodes: np.ndarray) -> None:
        """Record existing ``nodes`` as lying on threads ``seg`` at parameters ``t`` in (0, 1)."""
        self._att_seg.append(np.asarray(seg, np.int64).ravel())
        self._att_t.append(np.asarray(t, np.float64).ravel())
        self._att_node.append(np.asarray(nodes, np.int64).ravel())

    def attach(self, seg: np.ndarray, t: np.ndarray, max_share: int = 2) -> np.ndarray:
        """Create (or reuse) junction nodes on threads ``seg`` near parameters ``t``.

        ``t`` is snapped to slots of :attr:`min_spacing` along each thread; a slot already
        used is shared by up to ``max_share`` later threads (junction degree 2 + uses), after
        which the nearest free slot is taken. Returns the node ids (M,).
        """
        seg = np.asarray(seg, np.int64).ravel()
        t = np.asarray(t, np.float64).ravel()
        segs, _ = self.segments()
        pos = self.pos
        ends = segs[seg]
        length = np.linalg.norm(pos[ends[:, 1]] - pos[ends[:, 0]], axis=1)
        n_slots = np.maximum(np.floor(length / self.min_spacing).astype(np.int64), 1)
        slot = np.clip(np.floor(t * n_slots).astype(np.int64), 1, np.maximum(n_slots - 2, 1))
        keys = np.empty(len(seg), np.int64)
        for m in range(len(seg)):  # bookkeeping only: a few thousand dict operations in all
            s, ns, k = int(seg[m]), int(n_slots[m]), int(slot[m])
            lo, hi = (1, ns - 2) if ns >= 3 else (k, k)
            for step in range(2 * ns + 1):
                cand = k + (step + 1) // 2 * (1 if step % 2 else -1)
                if lo <= cand <= hi and self._slot_uses.get(s * 2**20 + cand, 0) < max_share:
                    k = cand
                    break
            keys[m] = s * 2**20 + k
            self._slot_uses[int(keys[m])] = self._slot_uses.get(int(keys[m]), 0) + 1
        fresh = [m for m in range(len(seg)) if int(keys[m]) not in self._slots]
        _, first = np.unique(keys[fresh], return_index=True) if fresh else ([], [])
        make = np.array(sorted(np.asarray(fresh)[first].tolist()), np.int64)
        if len(make):
            ns_ = n_slots[make]
            nt = np.where(ns_ >= 3, (keys[make] % 2**20 + 0.5) / ns_, 0.5)
            e = ends[make]
            p = pos[e[:, 0]] + nt[:, None] * (pos[e[:, 1]] - pos[e[:, 0]])
            ids = self.add_nodes(p)
            self.attach_exact(seg[make], nt, ids)
            for key, i in zip(keys[make].tolist(), ids.tolist()):
                self._slots[key] = i
        out = np.array([self._slots[int(k)] for k in keys], np.int64)
        return out

    # ----------------------------------------------------------------- output
    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Split threads at attachments; return pos (N,3), edges (E,2), thread (E,), anchor (N,)."""
        segs, types = self.segments()
        pos = self.pos
        anchor = np.concatenate(self._anchor) if self._anchor else np.zeros(0, bool)
        edges, parent = split_segments(
            segs,
            np.concatenate(self._att_seg) if self._att_seg else np.zeros(0, np.int64),
            np.concatenate(self._att_t) if self._att_t else np.zeros(0),
            np.concatenate(self._att_node) if self._att_node else np.zeros(0, np.int64),
        )
        edges, keep, _ = canonicalize_edges(edges, len(pos))  # the edge set shaping sees
        return pos, edges, types[parent][keep], anchor


def split_segments(
    seg: np.ndarray, att_seg: np.ndarray, att_t: np.ndarray, att_node: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Split threads at attachment points (vectorised).

    Parameters
    ----------
    seg
        Thread endpoint node ids, (S, 2).
    att_seg, att_t, att_node
        For each attachment (A,): the thread it lies on, its parameter in (0, 1) from
        ``seg[:, 0]`` to ``seg[:, 1]``, and its node id.

    Returns
    -------
    edges : (E, 2) int64
        Consecutive pairs along every thread, E = S + A.
    parent : (E,) int64
        The thread each edge belongs to.
    """
    s = len(seg)
    all_seg = np.concatenate([np.arange(s), np.arange(s), att_seg])
    all_t = np.concatenate([np.zeros(s), np.ones(s), att_t])
    all_node = np.concatenate([seg[:, 0], seg[:, 1], att_node])
    order = np.lexsort((all_t, all_seg))
    sn = all_node[order]
    ss = all_seg[order]
    same = ss[1:] == ss[:-1]
    edges = np.stack([sn[:-1][same], sn[1:][same]], axis=1)
    return edges, ss[:-1][same]


def assemble_web(
    pos: np.ndarray,
    edges: np.ndarray,
    thread: np.ndarray,
    anchor: np.ndarray,
    meta: dict,
) -> WebGraph:
    """Build the final :class:`WebGraph`, dropping unused nodes and any duplicate edge.

    Every edge gets ``edge_attrs["force_density"]``, the force density of its thread
    type from :data:`~araneus.builders.shaping.DEFAULT_FORCE_DENSITY` (the values the
    builders form-find with).
    """
    edges, keep, _ = canonicalize_edges(edges, len(pos))
    thread = thread[keep].astype(np.int8)
    used = np.zeros(len(pos), bool)
    used[edges.ravel()] = True
    new_id = np.cumsum(used) - 1
    return WebGraph(
        pos[used],
        new_id[edges],
        node_attrs={"anchor": anchor[used]},
        edge_attrs={"thread": thread, "force_density": type_force_density(thread)},
        meta=meta,
    )


def type_force_density(codes: np.ndarray) -> np.ndarray:
    """(E,) float64 force densities of thread-type codes (:data:`DEFAULT_FORCE_DENSITY`)."""
    lut = np.array([DEFAULT_FORCE_DENSITY[name] for name in THREAD_TYPES])
    return lut[np.asarray(codes, np.int64)]


def scan_form(web: WebGraph, resolution: str | float, rng: np.random.Generator) -> WebGraph:
    """The builders' last step: ``web`` itself (resolution 0) or its scan-like resampling.

    The resampling seed is drawn from the builder's ``rng`` after the junction web is
    complete, so the junction form does not depend on ``resolution``.
    """
    if resolution == 0:
        return web
    return resample(web, resolution, seed=int(rng.integers(2**31)))


def box_face_points(
    rng: np.random.Generator,
    n: int,
    lo: np.ndarray,
    hi: np.ndarray,
    faces: tuple[str, ...],
) -> np.ndarray:
    """Uniform random points on chosen faces of the box ``[lo, hi]`` (mm), (n, 3).

    ``faces`` names from ``-x +x -y +y -z +z``; faces are chosen with probability
    proportional to their area.
    """
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    size = hi - lo
    axes = {"x": 0, "y": 1, "z": 2}
    area = np.array([np.prod(np.delete(size, axes[f[1]])) for f in faces])
    pick = rng.choice(len(faces), size=n, p=area / area.sum())
    p = lo + rng.random((n, 3)) * size
    for k, f in enumerate(faces):
        sel = pick == k
        p[sel, axes[f[1]]] = lo[axes[f[1]]] if f[0] == "-" else hi[axes[f[1]]]
    return p


def grow_threads(
    draft: Draft,
    rng: np.random.Generator,
    n_threads: int,
    *,
    anchor_points: Callable[[np.random.Generator, int], np.ndarray],
    seg_weight: Callable[[np.ndarray, np.ndarray], np.ndarray],
    p_anchor: float,
    length_scale: float,
    min_length: float,
    thread: str,
    batch: int = 64,
    n_candidates: int = 2048,
    vertical_bias: float = 0.0,
) -> None:
    """Add ``n_threads`` tangle threads, each fixed to at least one earlier thread.

    Each thread starts at a new anchor (probability ``p_anchor``, point from
    ``anchor_points``) or at a point on an earlier thread, and ends at a point on an
    earlier thread chosen with probability proportional to ``exp(-distance /
    length_scale)`` (Gumbel-max sampling over candidate points). Candidate points are
    drawn on existing threads with probability proportional to ``length *
    seg_weight(midpoints (S,3), codes (S,))``. Threads are added in batches of ``batch``
    that attach only to threads laid before the batch (vectorised per batch).
    ``vertical_bias`` adds ``vertical_bias * (|cos| - 1)`` to the log-weight of an end
    point, ``cos`` the cosine of the new thread's angle to the vertical (0 = none), so
    that steep threads are preferred.
    """
    done = 0
    while done < n_threads:
        segs, types = draft.segments()
        b = min(batch, n_threads - done, max(1, len(segs) // 2))  # small batches early on
        pos = draft.pos
        pa, pb = pos[segs[:, 0]], pos[segs[:, 1]]
        w = np.linalg.norm(pb - pa, axis=1) * seg_weight((pa + pb) / 2, types)
        if not np.any(w > 0):
            return
        n_c = min(n_candidates, 16 * len(segs) + 64)
        cs = rng.choice(len(segs), size=n_c, p=w / w.sum())
        ct = rng.uniform(0.08, 0.92, n_c)
        cp = pa[cs] + ct[:, None] * (pb[cs] - pa[cs])
        from_anchor = rng.random(b) < p_anchor
        start_p = np.empty((b, 3))
        start_p[from_anchor] = anchor_points(rng, int(from_anchor.sum()))
        start_c = rng.integers(0, n_c, b)
        start_p[~from_anchor] = cp[start_c[~from_anchor]]
        start_seg = np.where(from_anchor, -1, cs[start_c])
        d = cdist(start_p, cp)  # (b, C)
        logits = -d / length_scale
        if vertical_bias:
            dz = np.abs(cp[None, :, 2] - start_p[:, None, 2])
            logits += vertical_bias * (np.divide(dz, d, out=np.zeros_like(d), where=d > 0) - 1)
        logits[(d < min_length) | (cs[None, :] == start_seg[:, None])] = -np.inf
        g = rng.gumbel(size=logits.shape)
        end_c = np.argmax(logits + g, axis=1)
        ok = np.isfinite(logits[np.arange(b), end_c])
        if not ok.any():
            done += b
            continue
        fa, sc, ec = from_anchor[ok], start_c[ok], end_c[ok]
        a_nodes = np.empty(len(fa), np.int64)
        a_nodes[fa] = draft.add_nodes(start_p[ok][fa], anchor=True)
        a_nodes[~fa] = draft.attach(cs[sc[~fa]], ct[sc[~fa]])
        e_nodes = draft.attach(cs[ec], ct[ec])
        draft.add_segments(a_nodes, e_nodes, thread)
        done += b
