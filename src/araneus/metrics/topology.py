"""Webs up to isomorphism: Weisfeiler-Lehman colours, hashes and exact isomorphism tests.

Uniqueness and novelty of generated graphs are defined up to isomorphism in the graph
generation literature (V.U.N., Vignac et al., *DiGress*, ICLR 2023): two webs with the same
threads between renumbered or moved nodes are one topology. This module decides that in
two stages:

1. **Colour refinement** (1-dimensional Weisfeiler-Lehman), vectorised over all webs at
   once: every node starts with its degree; each round a node's colour becomes a hash of
   its colour and the multiset of its neighbours' colours. Each web is refined until its
   partition into colour classes stops splitting (at most N rounds for N nodes), and its
   hash sums its nodes' colours over those rounds. Isomorphic webs get equal hashes and
   equal colours at corresponding nodes; the hash does not depend on the other webs in
   the batch, on node order or on positions.
2. **Exact test** for webs whose hashes agree: VF2++ (``networkx.vf2pp_is_isomorphic``)
   with the stable colours as node labels. Refinement alone cannot separate some
   non-isomorphic graphs (e.g. regular ones); the exact test can, so "one topology" here
   means isomorphic, not merely WL-equivalent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..web import WebGraph

_M1, _M2, _GOLD = (
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0x9E3779B97F4A7C15),
)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    z = np.asarray(x).astype(np.uint64) + _GOLD
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def segment_sum(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Wrapping uint64 sums of ``values`` over segments ``offsets[i]:offsets[i+1]``."""
    n = np.diff(offsets)
    out = np.zeros(len(n), dtype=np.uint64)
    ne = n > 0
    if len(values) and ne.any():
        out[ne] = np.add.reduceat(values, offsets[:-1][ne])
    return out


def _classes_per_web(owner: np.ndarray, label: np.ndarray, n_webs: int) -> np.ndarray:
    """(W,) number of distinct labels in each web (labels compared on their top 40 bits,
    so that one sort of ``owner << 40 | label >> 24`` groups them; a rare clash can only
    end a web's refinement early, the same way for isomorphic webs)."""
    if not len(label):
        return np.zeros(n_webs, dtype=np.int64)
    key = np.sort((owner.astype(np.uint64) << np.uint64(40)) | (label >> np.uint64(24)))
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    return np.bincount((key[new] >> np.uint64(40)).astype(np.int64), minlength=n_webs)


def wl_refine(webs: Sequence[WebGraph], salt: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Colour refinement of every web to its stable partition (see module docstring).

    Parameters
    ----------
    webs
        Any webs (empty ones allowed).
    salt
        Seeds the hash function; another salt gives an independent hash.

    Returns
    -------
    hashes : np.ndarray
        (W,) uint64 topology hash of each web.
    colours : list of np.ndarray
        Per web, (N,) uint64 stable colour of each node.
    """
    from .stats import stack_webs

    st = stack_webs(webs)
    a = st.csr()
    m, w = st.n_nodes, st.n_webs
    owner = st.web_of_node
    deg = np.diff(a.indptr)
    nz = deg > 0
    label = mix64(deg.astype(np.uint64) + np.uint64(salt))
    acc = segment_sum(label, st.offsets)
    classes = _classes_per_web(owner, label, w)
    done = np.diff(st.offsets) == 0
    final, rounds = acc.copy(), np.zeros(w, dtype=np.uint64)
    colour = label.copy()
    it = 0
    while not done.all():
        it += 1
        agg = np.zeros(m, dtype=np.uint64)
        if nz.any():
            agg[nz] = np.add.reduceat(mix64(label[a.indices]), a.indptr[:-1][nz])
        label = mix64(label * np.uint64(1_000_003) + agg + np.uint64(it))
        acc = acc * np.uint64(31) + segment_sum(label, st.offsets)
        now = _classes_per_web(owner, label, w)
        stable = (now == classes) & ~done
        final[stable], rounds[stable] = acc[stable], it
        node_stable = stable[owner]
        colour[node_stable] = label[node_stable]
        done |= stable
        classes = now
    hashes = mix64(mix64(final + rounds) + np.diff(st.offsets).astype(np.uint64))
    return hashes, [colour[st.offsets[i] : st.offsets[i + 1]] for i in range(w)]


def topology_hash(web: WebGraph) -> str:
    """64-bit hex hash of a web's topology (:func:`wl_refine`).

    Equal for isomorphic webs whatever their node order or positions; webs with equal
    hashes are isomorphic unless refinement cannot tell them apart (or on a hash clash),
    which :class:`TopologyIndex` settles with an exact test.
    """
    return topology_hashes([web])[0]


def topology_hashes(webs: Sequence[WebGraph]) -> list[str]:
    """64-bit hex topology hash of every web (vectorised over all webs)."""
    return hashes_and_colours(webs)[0]


def hashes_and_colours(webs: Sequence[WebGraph]) -> tuple[list[str], list[np.ndarray]]:
    """Hex topology hashes and stable node colours of every web."""
    if not len(webs):
        return [], []
    h, colours = wl_refine(webs)
    return [f"{a:016x}" for a in h.tolist()], colours


class TopologyIndex:
    """Webs grouped by topology hash, answering "is this web isomorphic to one of them?".

    Parameters
    ----------
    webs
        The webs to index (e.g. a training set).
    known
        Their :func:`hashes_and_colours`, if already computed.
    """

    def __init__(self, webs: Sequence[WebGraph], known=None):
        self.webs = list(webs)
        self.hashes, self.colours = hashes_and_colours(self.webs) if known is None else known
        self.buckets: dict[str, list[int]] = {}
        for i, h in enumerate(self.hashes):
            self.buckets.setdefault(h, []).append(i)
        self._graphs: dict[int, object] = {}

    def graph(self, i: int):
        """networkx graph of web ``i`` with its stable colours as node label ``"c"``."""
        g = self._graphs.get(i)
        if g is None:
            g = _nx_graph(self.webs[i], self.colours[i])
            self._graphs[i] = g
        return g

    def find(self, web: WebGraph, h: str | None = None, colours=None, among=None) -> int | None:
        """Index of an indexed web isomorphic to ``web`` (the first found), else None.

        ``h`` / ``colours``: the web's :func:`topology_hash` / stable colours if known;
        ``among``: only consider these indices.
        """
        h = topology_hash(web) if h is None else h
        cands = self.buckets.get(h, [])
        if among is not None:
            cands = [i for i in cands if i in among]
        if not cands:
            return None
        import networkx as nx

        if colours is None:
            colours = wl_refine([web])[1][0]
        g = _nx_graph(web, colours)
        for i in cands:
            if nx.vf2pp_is_isomorphic(g, self.graph(i), node_label="c"):
                return i
        return None


def _nx_graph(web: WebGraph, colours: np.ndarray):
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from((i, {"c": int(c)}) for i, c in enumerate(colours.tolist()))
    g.add_edges_from(web.edges.tolist())
    return g


def is_isomorphic(a: WebGraph, b: WebGraph) -> bool:
    """True if webs ``a`` and ``b`` have the same topology (positions ignored)."""
    return TopologyIndex([b]).find(a) is not None


def first_topologies(webs: Sequence[WebGraph], known=None) -> np.ndarray:
    """(W,) bool: True where a web is isomorphic to none of the webs before it.

    ``known``: the webs' :func:`hashes_and_colours` if already computed.
    """
    idx = TopologyIndex(webs, known)
    first = np.zeros(len(idx.webs), dtype=bool)
    seen: set[int] = set()
    for i, (w, h) in enumerate(zip(idx.webs, idx.hashes)):
        if not any(j in seen for j in idx.buckets[h]):
            first[i] = True
        else:
            first[i] = idx.find(w, h, idx.colours[i], among=seen) is None
        if first[i]:
            seen.add(i)
    return first
