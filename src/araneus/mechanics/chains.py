"""Condensing chains of thread segments into single members (exact for tension-only threads).

A scan skeleton or a generated web stores a thread as a polyline: most nodes have degree 2.
Between two junctions, such a chain of segments with one law and one cross-section is, for
a tension-only thread without bending, exactly one member: taut, it is straight and every
segment carries the same force at the same strain, so its force and energy depend only on
the distance between its ends and the sum of the segments' rest lengths; slack, it carries
nothing, whatever shape its inner nodes take. Condensing removes the inner nodes, which
are pure mechanisms whenever the chain goes slack (the hardest states for a Newton
solver) and most of the unknowns of a scan-like web.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph


@dataclass
class Chains:
    """Chains of an edge list.

    Attributes
    ----------
    edges
        (C, 2) end nodes of each chain (in the original numbering).
    chain_of
        (E,) chain index of every original edge.
    rest_length
        (C,) sum of the rest lengths of each chain's segments.
    first
        (C,) index of one original edge of each chain (to stand for it, e.g. when it
        breaks).
    """

    edges: np.ndarray
    chain_of: np.ndarray
    rest_length: np.ndarray
    first: np.ndarray


def condense_chains(
    edges: np.ndarray, n_nodes: int, keep: np.ndarray, kind: np.ndarray, rest_length: np.ndarray
) -> Chains:
    """Chains between nodes that are not inner chain nodes.

    Parameters
    ----------
    edges
        (E, 2) members.
    n_nodes
        Number of nodes.
    keep
        (N,) nodes that must stay (supports, grips).
    kind
        (E,) integer key of each member's law and section: a chain never joins
        members of different kinds.
    rest_length
        (E,) rest lengths.

    Inner nodes are free nodes of degree 2 whose two members are of the same kind. A
    closed loop of inner nodes (no end) is kept as it is (each of its edges its own
    chain).
    """
    edges = np.asarray(edges, np.int64)
    m = len(edges)
    deg = np.bincount(edges.ravel(), minlength=n_nodes)
    inner = (deg == 2) & ~np.asarray(keep, bool)
    # inner nodes whose two members differ in kind stay as chain ends
    inc = np.r_[np.arange(m), np.arange(m)]
    nodes = edges.T.ravel()
    kmin = np.full(n_nodes, np.iinfo(np.int64).max)
    kmax = np.full(n_nodes, np.iinfo(np.int64).min)
    np.minimum.at(kmin, nodes, kind[inc])
    np.maximum.at(kmax, nodes, kind[inc])
    inner &= kmin == kmax
    # edges are joined when they share an inner node: components of that relation
    sel = inner[nodes]
    pairs = np.stack([inc[sel], nodes[sel]], 1)
    order = np.argsort(pairs[:, 1], kind="stable")
    pairs = pairs[order]
    a, b = pairs[0::2, 0], pairs[1::2, 0]  # each inner node has exactly two edges
    adj = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m))
    n_chain, chain_of = csgraph.connected_components(adj, directed=False)
    # ends: nodes of a chain's edges that appear once in it (non-inner nodes)
    cn = np.stack([chain_of[inc], nodes], 1)
    uniq, counts = np.unique(cn, axis=0, return_counts=True)
    ends = uniq[(counts == 1) | ~inner[uniq[:, 1]]]
    ends = ends[~inner[ends[:, 1]]]
    n_ends = np.bincount(ends[:, 0], minlength=n_chain)
    lengths = np.bincount(chain_of, weights=rest_length, minlength=n_chain)
    first = np.full(n_chain, -1)
    first[chain_of[::-1]] = np.arange(m)[::-1]
    ok = n_ends == 2
    if not ok.all():  # loops and degenerate chains: keep their edges as they are
        bad = ~ok[chain_of]
        new = np.cumsum(ok) - 1
        extra = np.flatnonzero(bad)
        chain_of = np.where(bad, 0, new[chain_of])
        chain_of[extra] = int(ok.sum()) + np.arange(len(extra))
        ends_ok = ends[ok[ends[:, 0]]]
        ends_ok[:, 0] = new[ends_ok[:, 0]]
        lengths = np.r_[lengths[ok], rest_length[extra]]
        first = np.r_[first[ok], extra]
        chain_edges = np.vstack([_pairs(ends_ok, int(ok.sum())), edges[extra]])
        return Chains(chain_edges, chain_of, lengths, first)
    return Chains(_pairs(ends, n_chain), chain_of, lengths, first)


def _pairs(ends: np.ndarray, n: int) -> np.ndarray:
    """(n, 2) end nodes from rows (chain, node), two per chain."""
    order = np.lexsort((ends[:, 1], ends[:, 0]))
    e = ends[order]
    out = e[:, 1].reshape(n, 2)
    return out
