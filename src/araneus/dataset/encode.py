"""Batched, vectorised encoding of many small graphs into padded WebDataset arrays.

Graphs travel between the samplers and the encoder as a :class:`Packed` batch: all nodes of
all samples concatenated (sample ``s`` owns a contiguous block of ``sizes[s]`` nodes) and
the undirected edges in that global numbering. Every step below (degree cap, canonical
breadth-first order, augmentation, padding) works on the whole batch at once with numpy.

Canonical node order
--------------------
Inside every sample the nodes are numbered in breadth-first order from a deterministic
root: the node nearest the sample centroid (ties: lexicographically smallest (x, y, z)).
The children of a node are enqueued in lexicographic (x, y, z) order of their positions;
a node reached from several parents belongs to the earliest-numbered parent. A
disconnected sample (only possible through :meth:`WebDataset.from_webs`) continues with
the unvisited node nearest the centroid as a new root. In this order every edge joins
nodes at most ``bandwidth`` apart, which is recorded in the dataset's meta.

Degree cap
----------
A node may keep at most ``K`` edges. Rule: every node ranks its edges by length (ties by
edge index) and keeps its ``K`` shortest; an edge survives only if *both* endpoints keep
it. The rule is deterministic, vectorised, and drops only edges of over-degree nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import InputError
from ..features import FEATURE_NAMES


@dataclass
class Packed:
    """A batch of small graphs in concatenated form.

    Attributes
    ----------
    sizes
        (S,) int64 number of nodes of each sample.
    pos
        (M,) x 3 float64 node positions, M = sizes.sum(); sample s owns rows
        ``offsets[s]:offsets[s+1]``.
    edges
        (E, 2) int64 undirected edges in global row numbering, both ends in one sample.
    origin
        (M,) int64 index of each node in the graph it was cut from (-1 if unknown).
    source_id
        (S,) int64 index of the source graph of each sample.
    """

    sizes: np.ndarray
    pos: np.ndarray
    edges: np.ndarray
    origin: np.ndarray
    source_id: np.ndarray

    @property
    def offsets(self) -> np.ndarray:
        """(S + 1,) start of each sample's nodes in ``pos``; the last entry is the node count."""
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)

    @property
    def sample_of_node(self) -> np.ndarray:
        """(M,) index of the sample each node belongs to."""
        return np.repeat(np.arange(len(self.sizes)), self.sizes)


def concat_packed(parts: list[Packed]) -> Packed:
    """Concatenate several packed batches into one."""
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return Packed(z, np.zeros((0, 3)), np.zeros((0, 2), np.int64), z, z)
    offs = np.cumsum([0] + [len(p.pos) for p in parts])
    return Packed(
        np.concatenate([p.sizes for p in parts]),
        np.concatenate([p.pos for p in parts]),
        np.concatenate([p.edges + o for p, o in zip(parts, offs[:-1])]),
        np.concatenate([p.origin for p in parts]),
        np.concatenate([p.source_id for p in parts]),
    )


def select_samples(p: Packed, keep: np.ndarray) -> Packed:
    """Packed batch restricted to the samples where ``keep`` (S,) bool is true."""
    node_keep = np.repeat(keep, p.sizes)
    remap = np.cumsum(node_keep) - 1
    e = p.edges[node_keep[p.edges[:, 0]]]
    return Packed(p.sizes[keep], p.pos[node_keep], remap[e], p.origin[node_keep], p.source_id[keep])


def restrict_nodes(p: Packed, node_keep: np.ndarray) -> Packed:
    """Packed batch keeping only nodes where ``node_keep`` (M,) is true (induced edges)."""
    sid = p.sample_of_node
    sizes = np.bincount(sid[node_keep], minlength=len(p.sizes)).astype(np.int64)
    remap = np.cumsum(node_keep) - 1
    ek = node_keep[p.edges].all(axis=1)
    return Packed(sizes, p.pos[node_keep], remap[p.edges[ek]], p.origin[node_keep], p.source_id)


def degree_cap_mask(pos: np.ndarray, edges: np.ndarray, k: int) -> np.ndarray:
    """Edges kept under the degree cap ``k`` (rule: see module docstring).

    Parameters
    ----------
    pos
        (N, 3) node positions (edge lengths decide which edges a capped node keeps).
    edges
        (E, 2) undirected edges, indices into ``pos``.
    k
        Degree cap (>= 1).

    Returns
    -------
    np.ndarray
        (E,) bool mask of the edges kept.
    """
    e = len(edges)
    if e == 0:
        return np.ones(0, dtype=bool)
    length = np.linalg.norm(pos[edges[:, 1]] - pos[edges[:, 0]], axis=1)
    node = np.concatenate([edges[:, 0], edges[:, 1]])
    eid = np.tile(np.arange(e), 2)
    order = np.lexsort((eid, np.tile(length, 2), node))
    sn = node[order]
    start = np.flatnonzero(np.r_[True, sn[1:] != sn[:-1]])
    first = np.repeat(start, np.diff(np.r_[start, len(sn)]))
    rank = np.empty(2 * e, dtype=np.int64)
    rank[order] = np.arange(2 * e) - first
    ok = rank < k
    return ok[:e] & ok[e:]


def _csr(m: int, edges: np.ndarray) -> sp.csr_matrix:
    r = np.concatenate([edges[:, 0], edges[:, 1]])
    c = np.concatenate([edges[:, 1], edges[:, 0]])
    return sp.csr_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(m, m))


def gather_neighbors(indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray):
    """All (node, neighbour) pairs of ``nodes`` in a CSR graph, vectorised.

    Returns (rep, nbr): ``rep`` (P,) positions into ``nodes``, ``nbr`` (P,) neighbours.
    """
    starts = indptr[nodes]
    deg = indptr[nodes + 1] - starts
    rep = np.repeat(np.arange(len(nodes)), deg)
    csum = np.cumsum(deg) - deg
    idx = np.arange(int(deg.sum())) - np.repeat(csum, deg) + np.repeat(starts, deg)
    return rep, indices[idx]


def _group_rank(keys: np.ndarray) -> np.ndarray:
    """Running index within runs of equal (sorted) keys."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return np.arange(len(keys)) - np.repeat(start, np.diff(np.r_[start, len(keys)]))


def centroids(p: Packed) -> np.ndarray:
    """(S, 3) centroid of each sample (zeros for empty samples)."""
    sid = p.sample_of_node
    s = len(p.sizes)
    c = np.stack([np.bincount(sid, weights=p.pos[:, d], minlength=s) for d in range(3)], axis=1)
    return c / np.maximum(p.sizes, 1)[:, None]


def position_rank(pos: np.ndarray, sid: np.ndarray) -> np.ndarray:
    """(M,) rank of every node in (sample, x, y, z) lexicographic order.

    Fast path: sort by (sample, x); y and z are consulted only if some sample has two
    nodes with equal x.
    """
    m = len(pos)
    o = np.lexsort((pos[:, 0], sid))
    xs, ss = pos[o, 0], sid[o]
    if m > 1 and ((xs[1:] == xs[:-1]) & (ss[1:] == ss[:-1])).any():
        o = np.lexsort((pos[:, 2], pos[:, 1], pos[:, 0], sid))
    out = np.empty(m, dtype=np.int64)
    out[o] = np.arange(m)
    return out


def canonical_rank(p: Packed) -> np.ndarray:
    """(M,) canonical rank of every node inside its sample (see module docstring)."""
    m, s = len(p.pos), len(p.sizes)
    sid = p.sample_of_node
    poskey = position_rank(p.pos, sid)
    d2 = ((p.pos - centroids(p)[sid]) ** 2).sum(axis=1)
    a = _csr(m, p.edges)
    rank = np.full(m, -1, dtype=np.int64)
    count = np.zeros(s, dtype=np.int64)
    while True:
        cand = np.flatnonzero(rank < 0)
        if not len(cand):
            break
        o = cand[np.lexsort((poskey[cand], d2[cand], sid[cand]))]
        roots = o[np.r_[True, sid[o][1:] != sid[o][:-1]]]
        rank[roots] = count[sid[roots]]
        count[sid[roots]] += 1
        frontier = roots
        while len(frontier):
            rep, nb = gather_neighbors(a.indptr, a.indices, frontier)
            par = frontier[rep]
            fresh = rank[nb] < 0
            par, nb = par[fresh], nb[fresh]
            if not len(nb):
                break
            key = (sid[nb] * (int(p.sizes.max()) + 1) + rank[par]) * m + poskey[nb]
            nb = nb[np.argsort(key)]
            _, first = np.unique(nb, return_index=True)
            nb = nb[np.sort(first)]
            snb = sid[nb]
            rank[nb] = count[snb] + _group_rank(snb)
            count += np.bincount(snb, minlength=s)
            frontier = nb
    return rank


def augment(p: Packed, rng: np.random.Generator, rotate: bool, reflect: bool, jitter: float):
    """Random rotation about the vertical (z) axis, x-reflection and jitter, per sample.

    ``jitter`` is the standard deviation of Gaussian noise as a fraction of each sample's
    mean edge length. Returns a new Packed (positions changed only).
    """
    if not (rotate or reflect or jitter > 0):
        return p
    s = len(p.sizes)
    sid = p.sample_of_node
    cen = centroids(p)
    x = p.pos - cen[sid]
    if reflect:
        flip = rng.random(s) < 0.5
        x[:, 0] = np.where(flip[sid], -x[:, 0], x[:, 0])
    if rotate:
        th = rng.uniform(0.0, 2.0 * np.pi, s)[sid]
        c, sn = np.cos(th), np.sin(th)
        x = np.stack([c * x[:, 0] - sn * x[:, 1], sn * x[:, 0] + c * x[:, 1], x[:, 2]], axis=1)
    if jitter > 0 and len(p.edges):
        length = np.linalg.norm(x[p.edges[:, 1]] - x[p.edges[:, 0]], axis=1)
        es = sid[p.edges[:, 0]]
        mean_len = np.bincount(es, weights=length, minlength=s) / np.maximum(
            np.bincount(es, minlength=s), 1
        )
        x = x + rng.normal(size=x.shape) * (jitter * mean_len[sid])[:, None]
    return Packed(p.sizes, x + cen[sid], p.edges, p.origin, p.source_id)


def encode(p: Packed, k: int, length: int) -> dict:
    """Pad a capped batch into WebDataset arrays.

    Parameters
    ----------
    p
        Packed batch; every node must already have degree <= ``k``.
    k
        Neighbour slots per node.
    length
        Padded length L (>= every sample size).

    Returns
    -------
    dict with ``pos`` (S, L, 3) float32 centroid-relative, ``nbrs`` (S, L, K) int64
    (valid neighbours ascending, then -1), ``mask`` (S, L) bool, ``origin`` (S, L) int64,
    ``source_id`` (S,) int64, ``bandwidth`` (int, max |i - j| over edges) and
    ``features`` (S, 7) conditioning features (:data:`araneus.features.FEATURE_NAMES`).
    """
    s = len(p.sizes)
    if s and p.sizes.max() > length:
        raise InputError(f"a sample has {int(p.sizes.max())} nodes, more than L={length}")
    sid = p.sample_of_node
    rank = canonical_rank(p)
    rel = (p.pos - centroids(p)[sid]).astype(np.float32).astype(np.float64)
    pos = np.zeros((s, length, 3), dtype=np.float32)
    pos[sid, rank] = rel
    mask = np.zeros((s, length), dtype=bool)
    mask[sid, rank] = True
    origin = np.full((s, length), -1, dtype=np.int64)
    origin[sid, rank] = p.origin
    nbrs = np.full((s, length, k), -1, dtype=np.int64)
    bandwidth = 0
    if len(p.edges):
        a = np.concatenate([rank[p.edges[:, 0]], rank[p.edges[:, 1]]])
        b = np.concatenate([rank[p.edges[:, 1]], rank[p.edges[:, 0]]])
        es = np.tile(sid[p.edges[:, 0]], 2)
        o = np.argsort((es * length + a) * length + b)
        a, b, es = a[o], b[o], es[o]
        slot = _group_rank(es * length + a)
        if slot.max() >= k:
            raise InputError(f"a node has more than K={k} neighbours; apply the degree cap first")
        nbrs[es, a, slot] = b
        bandwidth = int(np.abs(a - b).max())
    return {
        "features": packed_features(p.sizes, sid, rel, p.edges),
        "pos": pos,
        "nbrs": nbrs,
        "mask": mask,
        "origin": origin,
        "source_id": p.source_id.astype(np.int64),
        "bandwidth": bandwidth,
    }


def packed_features(
    sizes: np.ndarray, sid: np.ndarray, pos: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Conditioning features of packed samples, O(E) instead of O(S L K).

    Same definitions as :func:`araneus.features.batch_features`.

    Parameters
    ----------
    sizes
        (S,) nodes per sample.
    sid
        (M,) sample index of each node.
    pos
        (M, 3) node positions (length units L).
    edges
        (E, 2) undirected edges into ``pos``, each within one sample.

    Returns
    -------
    np.ndarray
        (S, 7) features in the order of :data:`~araneus.features.FEATURE_NAMES`.
    """
    s = len(sizes)
    out = np.zeros((s, len(FEATURE_NAMES)))
    es = sid[edges[:, 0]]
    ne = np.bincount(es, minlength=s).astype(np.float64)
    if len(edges):
        vec = pos[edges[:, 1]] - pos[edges[:, 0]]
        safe = np.maximum(ne, 1)
        out[:, 0] = np.bincount(es, weights=np.sqrt((vec**2).sum(axis=1)), minlength=s) / safe
        for d in range(3):
            out[:, 1 + d] = np.bincount(es, weights=np.abs(vec[:, d]), minlength=s) / safe
    out[:, 4] = sizes
    out[:, 5] = ne
    out[:, 6] = np.where(sizes > 0, 2.0 * ne / np.maximum(sizes, 1), 0.0)
    return out


def seed_component(p: Packed, seed_local: np.ndarray | None = None) -> Packed:
    """Keep, in every sample, only the connected component of its seed node.

    ``seed_local`` (S,) gives each seed's row inside its sample (default 0, the first row).
    """
    m = len(p.pos)
    if m == 0:
        return p
    _, lab = connected_components(_csr(m, p.edges), directed=False)
    offs = p.offsets
    seeds = offs[:-1] + (0 if seed_local is None else seed_local)
    nonempty = p.sizes > 0
    seed_lab = np.full(len(p.sizes), -1)
    seed_lab[nonempty] = lab[seeds[nonempty]]
    return restrict_nodes(p, lab == seed_lab[p.sample_of_node])


def depth_first_permutation(nbrs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(S, L) depth-first node order of every padded sample: row ``s`` lists the old
    indices of its real nodes in their new order, then ``-1`` for padding.

    Parameters
    ----------
    nbrs
        (S, L, K) neighbour indices in any order (``-1`` empty), as in a WebDataset.
    mask
        (S, L) real nodes.

    The walk starts at the loose end (degree 1) with the smallest index, else at node 0,
    and visits a node's unvisited neighbours in index order (scipy's
    ``depth_first_order``); a disconnected sample continues from its next unvisited
    node. Along a thread, consecutive nodes are then neighbours (offset 1), where the
    breadth-first order interleaves the threads that grow from the root; only the
    first node of each further branch and the edges that close a cycle reach far back.
    """
    from scipy.sparse.csgraph import depth_first_order

    nb, mk = np.asarray(nbrs), np.asarray(mask, dtype=bool)
    s_, length, _ = nb.shape
    out = np.full((s_, length), -1, dtype=np.int64)
    for s in range(s_):
        n = int(mk[s].sum())
        i, k = np.nonzero(nb[s, :n] >= 0)
        j = nb[s, i, k]
        keep = j < n
        a = sp.csr_matrix((np.ones(int(keep.sum())), (i[keep], j[keep])), shape=(n, n))
        a = ((a + a.T) > 0).astype(np.int8).tocsr()
        deg = np.diff(a.indptr)
        left = np.ones(n, dtype=bool)
        order: list[np.ndarray] = []
        start = int(np.flatnonzero(deg == 1)[0]) if (deg == 1).any() else 0
        while n and left.any():
            o = depth_first_order(a, start, directed=False, return_predecessors=False)
            order.append(o)
            left[o] = False
            if left.any():
                rest = np.flatnonzero(left)
                leaves = rest[deg[rest] == 1]
                start = int(leaves[0] if len(leaves) else rest[0])
        if n:
            out[s, :n] = np.concatenate(order)
    return out


def permute_nodes(
    pos: np.ndarray, nbrs: np.ndarray, perm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Renumber padded samples: new node ``r`` of sample ``s`` is old node ``perm[s, r]``.

    Returns ``(pos, nbrs)`` of the same shapes, neighbour lists in the new numbering,
    ascending, then ``-1`` (padding rows and slots stay zero / ``-1``).
    """
    pos, nb, perm = np.asarray(pos), np.asarray(nbrs), np.asarray(perm)
    s_, length, k = nb.shape
    inv = np.full((s_, length + 1), -1, dtype=np.int64)  # old index -> new (-1 -> -1)
    rows = np.arange(s_)[:, None]
    real = perm >= 0
    inv[np.broadcast_to(rows, perm.shape)[real], perm[real]] = np.nonzero(real)[1]
    src = np.where(real, perm, length)  # padding rows read the sentinel row
    pos_pad = np.concatenate([pos, np.zeros((s_, 1, 3), pos.dtype)], 1)
    nb_pad = np.concatenate([nb, np.full((s_, 1, k), -1, nb.dtype)], 1)
    new_pos = pos_pad[rows, src]
    old_nb = nb_pad[rows, src]  # (S, L, K) old indices
    new_nb = np.where(old_nb >= 0, inv[rows[:, :, None], np.where(old_nb >= 0, old_nb, length)], -1)
    new_nb = np.sort(np.where(new_nb >= 0, new_nb, np.iinfo(np.int64).max), axis=-1)
    return new_pos, np.where(new_nb == np.iinfo(np.int64).max, -1, new_nb)


def adjacency_from_nbrs(nbrs: np.ndarray) -> np.ndarray:
    """(S, L, K) neighbour indices (``-1`` empty) -> (S, L, L) bool dense adjacency."""
    nb = np.asarray(nbrs)
    out = np.zeros((nb.shape[0], nb.shape[1], nb.shape[1]), dtype=bool)
    si, ri, ki = np.nonzero(nb >= 0)
    out[si, ri, nb[si, ri, ki]] = True
    return out
