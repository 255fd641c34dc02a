"""The core type of araneus: :class:`WebGraph`, a 3-D spider-web graph.

Nodes are thread junctions (or bends) with x, y, z positions; edges are undirected thread
segments. Every araneus stage takes and returns a ``WebGraph``.

Invariants, checked on construction (violations raise :class:`~araneus.errors.InputError`):

* ``pos`` is a finite float64 array of shape (N, 3);
* ``edges`` is an int64 array of shape (E, 2) with ``0 <= i < j < N`` in every row (pairs
  given as ``(j, i)`` are oriented silently, since an undirected edge has no direction),
  no self-loops and no duplicate edges;
* every ``node_attrs`` array has first dimension N and every ``edge_attrs`` array first
  dimension E.

Raw edge lists (with self-loops, duplicates, both directions listed) are cleaned explicitly
with :func:`canonicalize_edges`, which reports what it dropped.

Arrays are stored read-only so that derived quantities (lengths, degrees, adjacency,
components) can be cached safely; operations return new graphs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from .errors import InputError

#: Thread-type names; ``edge_attrs["thread"]`` stores indices into this tuple (int8).
THREAD_TYPES: tuple[str, ...] = (
    "unknown",
    "frame",
    "radial",
    "spiral",
    "hub",
    "sheet",
    "scaffold",
    "anchor",
    "bridge",
    "gumfoot",
    "stitch",
)
THREAD_CODE: dict[str, int] = {name: i for i, name in enumerate(THREAD_TYPES)}


def thread_code(name: str) -> int:
    """Integer code of a thread type name (see :data:`THREAD_TYPES`)."""
    try:
        return THREAD_CODE[name]
    except KeyError:
        raise InputError(
            f"unknown thread type {name!r}; valid: {', '.join(THREAD_TYPES)}"
        ) from None


@dataclass(frozen=True)
class CanonReport:
    """What :func:`canonicalize_edges` removed from a raw edge list."""

    n_input: int
    self_loops: int
    duplicates: int
    reversed_duplicates: int

    @property
    def n_output(self) -> int:
        return self.n_input - self.self_loops - self.duplicates

    def as_dict(self) -> dict[str, int]:
        return {
            "input_edges": self.n_input,
            "self_loops_dropped": self.self_loops,
            "duplicates_dropped": self.duplicates,
            "of_which_reverse_direction": self.reversed_duplicates,
            "edges": self.n_output,
        }


def _as_index_array(edges: Any, name: str = "edges") -> np.ndarray:
    """Convert an edge-like input to an int64 (E, 2) array, checking integrality."""
    arr = np.asarray(edges)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{name} must have shape (E, 2), got {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "b":
        raise InputError(f"{name} must hold integer node indices, got booleans")
    try:
        farr = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must hold integer node indices, got dtype {arr.dtype}") from None
    if not np.all(np.isfinite(farr)):
        raise InputError(f"{name} contains non-finite indices")
    if np.any(farr != np.round(farr)):
        bad = np.argwhere(farr != np.round(farr))[0]
        raise InputError(
            f"{name} must hold integer node indices; row {bad[0]} has {farr[bad[0]].tolist()}"
        )
    return farr.astype(np.int64)


def canonicalize_edges(
    edges: Any, n_nodes: int | None = None
) -> tuple[np.ndarray, np.ndarray, CanonReport]:
    """Clean a raw undirected edge list.

    Orients each pair as ``i < j``, drops self-loops and duplicate edges (including the same
    edge listed in both directions), keeping the first occurrence and the input order.

    Parameters
    ----------
    edges
        Integer array-like of shape (E, 2).
    n_nodes
        If given, indices are checked to lie in ``[0, n_nodes)``.

    Returns
    -------
    edges : ndarray, int64 (E', 2)
        Canonical edges.
    keep : ndarray, int64 (E',)
        Row of the input each output edge came from (to carry edge attributes along).
    report : CanonReport
        Counts of what was dropped.
    """
    e = _as_index_array(edges)
    n_in = len(e)
    if n_nodes is not None and n_in:
        _check_range(e, n_nodes)
    loops = e[:, 0] == e[:, 1]
    lo = np.minimum(e[:, 0], e[:, 1])
    hi = np.maximum(e[:, 0], e[:, 1])
    idx = np.flatnonzero(~loops)
    n_key = int(hi.max()) + 1 if n_in else 1
    key = lo[idx] * n_key + hi[idx]
    first, inv = _first_occurrence(key)
    keep = idx[np.sort(first)]
    n_dups = len(idx) - len(first)
    orient = e[idx, 0] < e[idx, 1]
    reversed_dups = int(np.count_nonzero(orient != orient[first[inv]]))
    report = CanonReport(
        n_input=n_in,
        self_loops=int(np.count_nonzero(loops)),
        duplicates=n_dups,
        reversed_duplicates=reversed_dups,
    )
    out = np.stack([lo[keep], hi[keep]], axis=1).astype(np.int64)
    return out, keep.astype(np.int64), report


def _first_occurrence(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first occurrence of each distinct key, and each row's group.

    Same as ``np.unique(key, return_index=True, return_inverse=True)[1:]`` but through one
    stable argsort, which is several times faster than numpy's hashing path on millions
    of int64 keys.
    """
    order = np.argsort(key, kind="stable")
    sk = key[order]
    is_first = np.ones(len(sk), dtype=bool)
    is_first[1:] = sk[1:] != sk[:-1]
    group = np.cumsum(is_first) - 1
    inv = np.empty(len(key), dtype=np.int64)
    inv[order] = group
    return order[is_first], inv


def _check_range(e: np.ndarray, n: int) -> None:
    if e.min() < 0:
        r = int(np.argwhere(e < 0)[0, 0])
        raise InputError(f"edges row {r} has a negative node index: {e[r].tolist()}")
    if e.max() >= n:
        r = int(np.argwhere(e >= n)[0, 0])
        raise InputError(
            f"edges row {r} refers to node {int(e[r].max())}, but there are only {n} nodes"
        )


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _attr_dict(attrs: Mapping[str, Any] | None, n: int, what: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, val in (attrs or {}).items():
        arr = np.array(val)
        if arr.ndim == 0 or arr.shape[0] != n:
            raise InputError(
                f"{what} attribute {key!r} must have first dimension {n}, got shape {arr.shape}"
            )
        out[str(key)] = _readonly(arr)
    return out


class WebGraph:
    """An undirected 3-D web graph.

    Parameters
    ----------
    pos
        Node positions, shape (N, 3), finite; converted to float64. Units are the user's
        (procedural webs are in millimetres).
    edges
        Undirected edges, shape (E, 2), integer node indices; no self-loops or duplicates
        (use :func:`canonicalize_edges` on raw lists).
    node_attrs
        Optional per-node arrays with first dimension N (e.g. ``"anchor"`` bool).
    edge_attrs
        Optional per-edge arrays with first dimension E (e.g. ``"thread"`` int8 codes into
        :data:`THREAD_TYPES`, ``"radius"`` float).
    meta
        Optional JSON-serialisable metadata (source, units, builder config, ...).
    """

    __slots__ = ("pos", "edges", "node_attrs", "edge_attrs", "meta", "__dict__")

    def __init__(
        self,
        pos: Any,
        edges: Any = None,
        node_attrs: Mapping[str, Any] | None = None,
        edge_attrs: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ):
        p = np.asarray(pos)
        if p.size == 0 and (p.ndim < 2 or p.shape[-1] in (0, 3)):
            p = np.zeros((0, 3))
        if p.ndim != 2 or p.shape[1] != 3:
            raise InputError(f"pos must have shape (N, 3), got {p.shape}")
        try:
            p = p.astype(np.float64)
        except (TypeError, ValueError):
            raise InputError(f"pos must be numeric, got dtype {p.dtype}") from None
        finite = np.isfinite(p)
        if not finite.all():
            r = int(np.argwhere(~finite)[0, 0])
            raise InputError(f"pos row {r} is not finite: {p[r].tolist()}")
        n = len(p)
        e = _as_index_array(np.zeros((0, 2)) if edges is None else edges)
        if len(e):
            _check_range(e, n)
            if np.any(e[:, 0] == e[:, 1]):
                r = int(np.flatnonzero(e[:, 0] == e[:, 1])[0])
                raise InputError(
                    f"edges row {r} is a self-loop on node {int(e[r, 0])}; "
                    "use canonicalize_edges() to clean raw edge lists"
                )
            e = np.sort(e, axis=1)
            key = e[:, 0] * n + e[:, 1]
            order = np.argsort(key, kind="stable")
            same = key[order[1:]] == key[order[:-1]]
            if same.any():
                r = int(order[1:][same].min())
                raise InputError(
                    f"edges row {r} {e[r].tolist()} is a duplicate; "
                    "use canonicalize_edges() to clean raw edge lists"
                )
        self.pos = _readonly(p)
        self.edges = _readonly(e)
        self.node_attrs = _attr_dict(node_attrs, n, "node")
        self.edge_attrs = _attr_dict(edge_attrs, len(e), "edge")
        self.meta: dict[str, Any] = dict(meta or {})

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_raw(
        cls,
        pos: Any,
        edges: Any,
        node_attrs: Mapping[str, Any] | None = None,
        edge_attrs: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> tuple[WebGraph, CanonReport]:
        """Build from a raw edge list, dropping self-loops and duplicates (reported)."""
        p = np.asarray(pos)
        n = p.shape[0] if p.ndim >= 1 else 0
        e, keep, report = canonicalize_edges(edges, n)
        ea = {k: np.asarray(v)[keep] for k, v in (edge_attrs or {}).items()}
        return cls(pos, e, node_attrs, ea, meta), report

    def replace(self, **changes: Any) -> WebGraph:
        """Copy with some of ``pos``, ``edges``, ``node_attrs``, ``edge_attrs``, ``meta`` replaced."""
        kw = {
            "pos": self.pos,
            "edges": self.edges,
            "node_attrs": self.node_attrs,
            "edge_attrs": self.edge_attrs,
            "meta": self.meta,
        }
        unknown = set(changes) - set(kw)
        if unknown:
            raise InputError(f"unknown WebGraph field(s): {sorted(unknown)}")
        kw.update(changes)
        return WebGraph(**kw)

    # ------------------------------------------------------------------ basic sizes
    @property
    def n_nodes(self) -> int:
        return int(self.pos.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edges.shape[0])

    def __len__(self) -> int:
        return self.n_nodes

    def __repr__(self) -> str:
        extra = ""
        if self.node_attrs or self.edge_attrs:
            extra = f", node_attrs={sorted(self.node_attrs)}, edge_attrs={sorted(self.edge_attrs)}"
        return f"WebGraph(n_nodes={self.n_nodes}, n_edges={self.n_edges}{extra})"

    def equals(self, other: WebGraph, atol: float = 0.0) -> bool:
        """True if positions match (within ``atol``) and the edge sets are the same."""
        if self.n_nodes != other.n_nodes or self.n_edges != other.n_edges:
            return False
        if not np.allclose(self.pos, other.pos, rtol=0, atol=atol):
            return False
        a = self.edges[np.lexsort(self.edges.T[::-1])]
        b = other.edges[np.lexsort(other.edges.T[::-1])]
        return bool(np.array_equal(a, b))

    # ------------------------------------------------------------------ derived (cached)
    @cached_property
    def edge_vectors(self) -> np.ndarray:
        """(E, 3) vectors ``pos[j] - pos[i]`` for each edge (i, j), i < j."""
        return _readonly(self.pos[self.edges[:, 1]] - self.pos[self.edges[:, 0]])

    @cached_property
    def edge_lengths(self) -> np.ndarray:
        """(E,) Euclidean edge lengths."""
        return _readonly(np.linalg.norm(self.edge_vectors, axis=1))

    @cached_property
    def degrees(self) -> np.ndarray:
        """(N,) node degrees, int64."""
        return _readonly(np.bincount(self.edges.ravel(), minlength=self.n_nodes).astype(np.int64))

    @cached_property
    def adjacency(self) -> sp.csr_matrix:
        """Symmetric (N, N) CSR adjacency matrix with unit weights (int8)."""
        n, e = self.n_nodes, self.edges
        data = np.ones(2 * len(e), dtype=np.int8)
        rows = np.concatenate([e[:, 0], e[:, 1]])
        cols = np.concatenate([e[:, 1], e[:, 0]])
        return sp.csr_matrix((data, (rows, cols)), shape=(n, n))

    @cached_property
    def _components(self) -> tuple[int, np.ndarray]:
        if self.n_nodes == 0:
            return 0, np.zeros(0, dtype=np.int64)
        nc, labels = csgraph.connected_components(self.adjacency, directed=False)
        return int(nc), _readonly(labels.astype(np.int64))

    @property
    def n_components(self) -> int:
        """Number of connected components (isolated nodes count as components)."""
        return self._components[0]

    @property
    def component_labels(self) -> np.ndarray:
        """(N,) component index of each node."""
        return self._components[1]

    def component_sizes(self) -> np.ndarray:
        """(C,) node count of each component, indexed by component label."""
        return np.bincount(self.component_labels, minlength=self.n_components)

    def bbox(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box ``(lo, hi)``, each (3,). Raises on an empty web."""
        if self.n_nodes == 0:
            raise InputError("bounding box of an empty web is undefined")
        return self.pos.min(axis=0), self.pos.max(axis=0)

    def neighbors(self, i: int) -> np.ndarray:
        """Sorted neighbour indices of node ``i``."""
        if not 0 <= i < self.n_nodes:
            raise InputError(f"node index {i} out of range [0, {self.n_nodes})")
        a = self.adjacency
        return np.sort(a.indices[a.indptr[i] : a.indptr[i + 1]]).astype(np.int64)

    # ------------------------------------------------------------------ subgraphs
    def subgraph(self, nodes: Any) -> WebGraph:
        """Induced subgraph on ``nodes`` (indices or a boolean mask of length N).

        Nodes are renumbered in the order given (for a mask, increasing index); node and
        edge attributes follow. The new graph's ``meta["parent_index"]`` is not set; use
        :meth:`subgraph_with_index` when the mapping is needed.
        """
        return self.subgraph_with_index(nodes)[0]

    def subgraph_with_index(self, nodes: Any) -> tuple[WebGraph, np.ndarray]:
        """Induced subgraph plus the (n,) array of parent node indices it was built from."""
        idx = np.asarray(nodes)
        if idx.dtype == bool:
            if idx.shape != (self.n_nodes,):
                raise InputError(f"node mask must have shape ({self.n_nodes},), got {idx.shape}")
            idx = np.flatnonzero(idx)
        idx = _as_index_array(idx.reshape(-1, 1).repeat(2, axis=1), "nodes")[:, 0]
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_nodes):
            raise InputError(f"subgraph node indices must lie in [0, {self.n_nodes})")
        if len(np.unique(idx)) != len(idx):
            raise InputError("subgraph node indices must be unique")
        remap = np.full(self.n_nodes, -1, dtype=np.int64)
        remap[idx] = np.arange(len(idx))
        e = remap[self.edges]
        keep = (e >= 0).all(axis=1)
        e = np.sort(e[keep], axis=1)
        sub = WebGraph(
            self.pos[idx],
            e,
            {k: v[idx] for k, v in self.node_attrs.items()},
            {k: v[keep] for k, v in self.edge_attrs.items()},
            self.meta,
        )
        return sub, idx

    def edge_subgraph(self, keep: Any) -> WebGraph:
        """Same nodes, only the edges selected by ``keep`` (mask or indices)."""
        k = np.asarray(keep)
        if k.dtype == bool and k.shape != (self.n_edges,):
            raise InputError(f"edge mask must have shape ({self.n_edges},), got {k.shape}")
        return WebGraph(
            self.pos,
            self.edges[k],
            self.node_attrs,
            {a: v[k] for a, v in self.edge_attrs.items()},
            self.meta,
        )

    def components(self, min_size: int = 1) -> list[WebGraph]:
        """Connected components with at least ``min_size`` nodes, largest first."""
        sizes = self.component_sizes()
        order = np.argsort(-sizes, kind="stable")
        return [
            self.subgraph(np.flatnonzero(self.component_labels == c))
            for c in order
            if sizes[c] >= min_size
        ]

    def largest_component(self) -> WebGraph:
        """The connected component with the most nodes (ties: lowest label)."""
        if self.n_nodes == 0:
            return self
        c = int(np.argmax(self.component_sizes()))
        return self.subgraph(self.component_labels == c)

    def drop_isolated(self) -> WebGraph:
        """Remove nodes with no edges."""
        return self.subgraph(self.degrees > 0)

    # ------------------------------------------------------------------ merging and union
    def merge_close_nodes(self, tol: float) -> tuple[WebGraph, int]:
        """Merge nodes closer than ``tol`` (transitively) into their mean position.

        Edges that become self-loops or duplicates are dropped (first kept). Returns the new
        web and the number of nodes removed. Node attributes take the first member's value.
        """
        if not np.isfinite(tol) or tol < 0:
            raise InputError(f"merge tolerance must be finite and >= 0, got {tol}")
        if tol == 0 or self.n_nodes < 2:
            return self, 0
        pairs = cKDTree(self.pos).query_pairs(tol, output_type="ndarray")
        if len(pairs) == 0:
            return self, 0
        n = self.n_nodes
        g = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        nc, labels = csgraph.connected_components(g, directed=False)
        return self._collapse(labels, nc), n - nc

    def _collapse(self, labels: np.ndarray, nc: int) -> WebGraph:
        """Collapse nodes by cluster label: mean position, first member's attributes."""
        cnt = np.bincount(labels, minlength=nc).astype(np.float64)
        pos = (
            np.stack(
                [np.bincount(labels, weights=self.pos[:, d], minlength=nc) for d in range(3)],
                axis=1,
            )
            / cnt[:, None]
        )
        first = np.full(nc, self.n_nodes, dtype=np.int64)
        np.minimum.at(first, labels, np.arange(self.n_nodes))
        e, keep, _ = canonicalize_edges(labels[self.edges])
        return WebGraph(
            pos,
            e,
            {k: v[first] for k, v in self.node_attrs.items()},
            {k: v[keep] for k, v in self.edge_attrs.items()},
            self.meta,
        )

    def union(self, other: WebGraph, merge_tol: float | None = None) -> WebGraph:
        """Union of two webs, optionally merging geometrically coincident nodes.

        Nodes of ``other`` within ``merge_tol`` of a node of ``self`` are mapped to the
        nearest such node (positions of ``self`` are kept); the remaining nodes of ``other``
        are appended. Edges that then coincide are kept once. Attributes present in only one
        web are filled with zeros (False for booleans) in the other.
        """
        n1 = self.n_nodes
        mapping = np.arange(n1, n1 + other.n_nodes, dtype=np.int64)
        if merge_tol is not None:
            if not np.isfinite(merge_tol) or merge_tol < 0:
                raise InputError(f"merge_tol must be finite and >= 0, got {merge_tol}")
            if n1 and other.n_nodes and merge_tol > 0:
                d, j = cKDTree(self.pos).query(other.pos, distance_upper_bound=merge_tol)
                hit = np.isfinite(d)
                mapping[hit] = j[hit]
        new = mapping >= n1
        mapping[new] = n1 + np.arange(int(new.sum()))
        pos = np.concatenate([self.pos, other.pos[new]])
        raw = np.concatenate([self.edges, mapping[other.edges]])
        e, keep, _ = canonicalize_edges(raw)
        node_attrs = _merge_attrs(self.node_attrs, other.node_attrs, n1, other.n_nodes, new)
        ea_all = _merge_attrs(self.edge_attrs, other.edge_attrs, self.n_edges, other.n_edges, None)
        meta = {**other.meta, **self.meta}
        return WebGraph(pos, e, node_attrs, {k: v[keep] for k, v in ea_all.items()}, meta)

    # ------------------------------------------------------------------ transforms
    def transform(
        self,
        rotation: Any = None,
        translation: Any = None,
        scale: float | Sequence[float] = 1.0,
    ) -> WebGraph:
        """Return ``pos' = scale * pos @ rotation.T + translation``.

        ``rotation`` must be a proper 3x3 rotation (orthonormal, det +1, within 1e-6);
        ``scale`` a positive scalar or 3 positive per-axis factors.
        """
        p = self.pos
        s = np.asarray(scale, dtype=np.float64)
        if s.shape not in ((), (3,)) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise InputError(f"scale must be a positive scalar or 3 positive factors, got {scale}")
        p = p * s
        if rotation is not None:
            r = np.asarray(rotation, dtype=np.float64)
            if r.shape != (3, 3) or not np.all(np.isfinite(r)):
                raise InputError(f"rotation must be a finite 3x3 matrix, got shape {r.shape}")
            if not np.allclose(r @ r.T, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
                raise InputError("rotation must be orthonormal with determinant +1")
            p = p @ r.T
        if translation is not None:
            t = np.asarray(translation, dtype=np.float64)
            if t.shape != (3,) or not np.all(np.isfinite(t)):
                raise InputError(f"translation must be 3 finite numbers, got {translation}")
            p = p + t
        return self.replace(pos=p)

    def translate(self, offset: Any) -> WebGraph:
        """Shift all nodes by ``offset`` (3,)."""
        return self.transform(translation=offset)

    def centered(self) -> WebGraph:
        """Shift so that the node centroid is at the origin."""
        if self.n_nodes == 0:
            return self
        return self.translate(-self.pos.mean(axis=0))

    # ------------------------------------------------------------------ networkx
    def to_networkx(self):
        """Convert to an undirected ``networkx.Graph`` (node attrs x, y, z + attributes)."""
        import networkx as nx

        g = nx.Graph()
        g.graph.update(self.meta)
        for i in range(self.n_nodes):
            d = {"x": float(self.pos[i, 0]), "y": float(self.pos[i, 1]), "z": float(self.pos[i, 2])}
            for k, v in self.node_attrs.items():
                d[k] = v[i].item() if v.ndim == 1 else v[i].tolist()
            g.add_node(i, **d)
        for r, (i, j) in enumerate(self.edges.tolist()):
            d = {
                k: (v[r].item() if v.ndim == 1 else v[r].tolist())
                for k, v in self.edge_attrs.items()
            }
            g.add_edge(i, j, **d)
        return g

    @classmethod
    def from_networkx(cls, g) -> WebGraph:
        """Build from a networkx graph whose nodes carry ``x``, ``y``, ``z`` (or ``pos``).

        Node labels may be arbitrary; nodes are numbered in iteration order. Other scalar
        node/edge attributes present on every node/edge are kept. Directed or multi graphs
        are reduced to simple undirected edges.
        """
        nodes = list(g.nodes)
        index = {n: i for i, n in enumerate(nodes)}
        pos = np.zeros((len(nodes), 3))
        for i, n in enumerate(nodes):
            d = g.nodes[n]
            if "pos" in d:
                p = list(d["pos"]) + [0.0] * (3 - len(d["pos"]))
                pos[i] = p[:3]
            elif "x" in d and "y" in d:
                pos[i] = (d["x"], d["y"], d.get("z", 0.0))
            else:
                raise InputError(f"networkx node {n!r} has no x/y(/z) or pos attribute")
        raw = [(index[u], index[v]) for u, v in g.edges()]
        node_attrs = _common_attrs([g.nodes[n] for n in nodes], {"x", "y", "z", "pos"})
        edge_attrs = _common_attrs([d for _, _, d in g.edges(data=True)], set())
        web, _ = cls.from_raw(
            pos, np.array(raw).reshape(-1, 2), node_attrs, edge_attrs, dict(g.graph)
        )
        return web


def _common_attrs(dicts: list[dict], skip: set[str]) -> dict[str, np.ndarray]:
    if not dicts:
        return {}
    keys = set(dicts[0]) - skip
    for d in dicts[1:]:
        keys &= set(d)
    out = {}
    for k in sorted(keys):
        vals = [d[k] for d in dicts]
        if all(isinstance(v, (bool, int, float, np.number, np.bool_)) for v in vals):
            out[k] = np.array(vals)
    return out


def _merge_attrs(
    a: dict[str, np.ndarray],
    b: dict[str, np.ndarray],
    na: int,
    nb: int,
    b_keep: np.ndarray | None,
) -> dict[str, np.ndarray]:
    out = {}
    for k in sorted(set(a) | set(b)):
        ref = a[k] if k in a else b[k]
        va = a[k] if k in a else np.zeros((na,) + ref.shape[1:], dtype=ref.dtype)
        vb = b[k] if k in b else np.zeros((nb,) + ref.shape[1:], dtype=ref.dtype)
        if b_keep is not None:
            vb = vb[b_keep]
        out[k] = np.concatenate([va, vb.astype(np.result_type(va, vb))])
    return out


def concat_webs(webs: Sequence[WebGraph]) -> WebGraph:
    """Disjoint union of several webs (no merging), in one vectorised pass."""
    if not webs:
        return WebGraph(np.zeros((0, 3)))
    offs = np.cumsum([0] + [w.n_nodes for w in webs])
    pos = np.concatenate([w.pos for w in webs])
    edges = np.concatenate([w.edges + o for w, o in zip(webs, offs[:-1])])
    node_keys = set().union(*(w.node_attrs for w in webs))
    edge_keys = set().union(*(w.edge_attrs for w in webs))

    def gather(key: str, kind: str) -> np.ndarray:
        parts = []
        ref = next(getattr(w, kind)[key] for w in webs if key in getattr(w, kind))
        for w in webs:
            n = w.n_nodes if kind == "node_attrs" else w.n_edges
            d = getattr(w, kind)
            parts.append(d[key] if key in d else np.zeros((n,) + ref.shape[1:], ref.dtype))
        return np.concatenate(parts)

    return WebGraph(
        pos,
        edges,
        {k: gather(k, "node_attrs") for k in sorted(node_keys)},
        {k: gather(k, "edge_attrs") for k in sorted(edge_keys)},
        dict(webs[0].meta),
    )


__all__ = [
    "THREAD_TYPES",
    "THREAD_CODE",
    "thread_code",
    "CanonReport",
    "canonicalize_edges",
    "WebGraph",
    "concat_webs",
]
