"""Subgraph samplers over one (degree-capped) source web, vectorised over many samples.

Each sampler takes the source's CSR arrays (or positions for crops), an array of seed nodes
and per-sample target sizes, and returns the members of every sample as two flat arrays
``(sample, node)`` (sorted by sample, nodes unique per sample, the seed first).
:func:`induce` turns members into a :class:`~araneus.dataset.encode.Packed` batch with the
induced edges.

- ``rw``: GraphSAINT-style non-backtracking random walk from the seed, run until it has
  visited the target number of distinct nodes (or ``max_steps``); the sample is the
  induced subgraph on the visited nodes, hence connected.
- ``bfs``: breadth-first ball around the seed; the last ring is cut at random to hit the
  target size exactly. Connected by construction.
- ``crop``: the target number of nodes nearest the seed position, by Euclidean distance
  (``crop_shape="sphere"``) or Chebyshev distance (``"cube"``), as in the 2022 companion
  work; only the seed's connected component is kept, so crops may come out smaller.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .encode import Packed, gather_neighbors


def random_walk(
    indptr: np.ndarray,
    indices: np.ndarray,
    seeds: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
    max_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Non-backtracking random walks from ``seeds``; distinct nodes in visiting order.

    Returns (sample, node) members with at most ``target[b]`` nodes for walk ``b``. Every
    seed must have at least one neighbour.
    """
    b = len(seeds)
    if b == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cols = [seeds.astype(np.int64)]
    cur, prev = cols[0], np.full(b, -1, dtype=np.int64)
    n_max = int(target.max())
    todo = np.arange(b)  # walks not yet known to have enough distinct nodes
    next_check = n_max
    for t in range(1, max_steps + 1):
        start = indptr[cur]
        deg = indptr[cur + 1] - start
        r = (rng.random(b) * deg).astype(np.int64)
        nxt = indices[start + r]
        back = (nxt == prev) & (deg > 1)
        if back.any():
            r2 = (rng.random(int(back.sum())) * (deg[back] - 1)).astype(np.int64)
            r2 += r2 >= r[back]
            nxt[back] = indices[start[back] + r2]
        prev, cur = cur, nxt
        cols.append(cur)
        if t == next_check:
            srt = np.sort(np.stack(cols, axis=1)[todo], axis=1)
            distinct = (srt[:, 1:] != srt[:, :-1]).sum(axis=1) + 1
            todo = todo[distinct < target[todo]]
            if not len(todo):
                break
            next_check += max(n_max // 2, 8)
    traj = np.stack(cols, axis=1)  # (B, T)
    t_len = traj.shape[1]
    n = int(indptr.shape[0] - 1)
    key = np.repeat(np.arange(b, dtype=np.int64), t_len) * n + traj.ravel()
    o = np.argsort(key, kind="stable")
    ks = key[o]
    first = np.sort(o[np.r_[True, ks[1:] != ks[:-1]]])  # flat (b, t) index of first visits
    samp = first // t_len
    node = traj.ravel()[first]
    start = np.searchsorted(samp, np.arange(b))
    rank = np.arange(len(samp)) - start[samp]
    keep = rank < target[samp]
    return samp[keep], node[keep]


def bfs_ball(
    indptr: np.ndarray,
    indices: np.ndarray,
    seeds: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first balls of ``target[b]`` nodes around ``seeds`` (last ring cut at random)."""
    b = len(seeds)
    n = int(indptr.shape[0] - 1)
    samp = [np.arange(b, dtype=np.int64)]
    node = [seeds.astype(np.int64)]
    count = np.ones(b, dtype=np.int64)
    visited = np.sort(samp[0] * n + node[0])
    f_s, f_n = samp[0], node[0]
    while len(f_n):
        rep, nb = gather_neighbors(indptr, indices, f_n)
        s = f_s[rep]
        key = s * n + nb
        key = np.unique(key)
        pos = np.searchsorted(visited, key)
        pos = np.minimum(pos, len(visited) - 1)
        key = key[visited[pos] != key]
        s, nb = key // n, key % n
        open_ = count[s] < target[s]
        s, nb = s[open_], nb[open_]
        if not len(nb):
            break
        pri = rng.random(len(nb))
        o = np.lexsort((pri, s))
        s, nb = s[o], nb[o]
        start = np.searchsorted(s, np.arange(b))
        r = np.arange(len(s)) - start[s]
        keep = r < (target - count)[s]
        s, nb = s[keep], nb[keep]
        count += np.bincount(s, minlength=b)
        samp.append(s)
        node.append(nb)
        visited = np.sort(np.concatenate([visited, s * n + nb]))
        f_s, f_n = s, nb
    sa, no = np.concatenate(samp), np.concatenate(node)
    o = np.argsort(sa, kind="stable")
    return sa[o], no[o]


def spatial_crop(
    tree: cKDTree, pos: np.ndarray, seeds: np.ndarray, target: np.ndarray, shape: str
) -> tuple[np.ndarray, np.ndarray]:
    """The ``target[b]`` nodes nearest each seed (sphere: L2; cube: L-infinity distance)."""
    b = len(seeds)
    k = int(min(target.max(), len(pos)))
    _, idx = tree.query(pos[seeds], k=k, p=2 if shape == "sphere" else np.inf)
    idx = np.asarray(idx).reshape(b, k)
    # make sure the seed is first (ties at distance 0 may put a duplicate node first)
    is_seed = idx == seeds[:, None]
    col = np.where(is_seed.any(axis=1), is_seed.argmax(axis=1), 0)
    rows = np.arange(b)
    idx[rows, col], idx[rows, 0] = idx[rows, 0], seeds
    keep = np.arange(k)[None, :] < np.minimum(target, k)[:, None]
    samp = np.broadcast_to(rows[:, None], idx.shape)[keep]
    return samp.astype(np.int64), idx[keep].astype(np.int64)


def induce(
    indptr: np.ndarray,
    indices: np.ndarray,
    pos: np.ndarray,
    samp: np.ndarray,
    node: np.ndarray,
    n_samples: int,
    source_id: int = 0,
) -> Packed:
    """Induced subgraphs of the members (samp, node) (sorted by samp) as a Packed batch."""
    n = int(indptr.shape[0] - 1)
    key = samp * n + node
    order = np.argsort(key)
    skey = key[order]
    rep, nb = gather_neighbors(indptr, indices, node)
    q = samp[rep] * n + nb
    hit = np.searchsorted(skey, q)
    hit = np.minimum(hit, max(len(skey) - 1, 0))
    found = skey[hit] == q if len(skey) else np.zeros(len(q), bool)
    a, bb = rep[found], order[hit[found]]
    und = a < bb
    edges = np.stack([a[und], bb[und]], axis=1).astype(np.int64)
    sizes = np.bincount(samp, minlength=n_samples).astype(np.int64)
    return Packed(
        sizes, pos[node], edges, node.astype(np.int64), np.full(n_samples, source_id, np.int64)
    )
