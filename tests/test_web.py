import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from araneus import InputError, WebGraph, canonicalize_edges, concat_webs
from araneus.features import FEATURE_NAMES, batch_features, conditioning_features


def square():
    pos = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
    return WebGraph(pos, [[0, 1], [2, 1], [2, 3], [3, 0]])


def test_canonical_storage_and_derived():
    w = square()
    assert w.edges.dtype == np.int64 and w.pos.dtype == np.float64
    assert (w.edges[:, 0] < w.edges[:, 1]).all()
    assert w.edges[1].tolist() == [1, 2]
    np.testing.assert_allclose(w.edge_lengths, 1.0)
    assert w.degrees.tolist() == [2, 2, 2, 2]
    assert w.adjacency.nnz == 8 and (w.adjacency != w.adjacency.T).nnz == 0
    assert w.n_components == 1
    lo, hi = w.bbox()
    assert lo.tolist() == [0, 0, 0] and hi.tolist() == [1, 1, 0]
    with pytest.raises(ValueError):
        w.pos[0, 0] = 5.0  # read-only


@pytest.mark.parametrize(
    "pos, edges, msg",
    [
        (np.zeros((3, 2)), [[0, 1]], "shape"),
        ([[0, 0, 0], [np.nan, 0, 0]], [[0, 1]], "not finite"),
        (np.zeros((2, 3)), [[0, 2]], "only 2 nodes"),
        (np.zeros((2, 3)), [[-1, 1]], "negative"),
        (np.zeros((2, 3)), [[0.5, 1]], "integer"),
        (np.zeros((2, 3)), [[1, 1]], "self-loop"),
        (np.zeros((2, 3)), [[0, 1], [1, 0]], "duplicate"),
        (np.zeros((2, 3)), [[0, 1, 2]], "shape"),
        ([["a", "b", "c"]], None, "numeric"),
    ],
)
def test_validation_errors(pos, edges, msg):
    with pytest.raises(InputError, match=msg):
        WebGraph(pos, edges)


def test_attr_length_checked():
    with pytest.raises(InputError, match="attribute 'r'"):
        WebGraph(np.zeros((2, 3)), [[0, 1]], edge_attrs={"r": [1.0, 2.0]})


def test_canonicalize_reports_counts():
    e, keep, rep = canonicalize_edges([[0, 1], [1, 0], [2, 2], [1, 2], [0, 1]], 3)
    assert e.tolist() == [[0, 1], [1, 2]]
    assert keep.tolist() == [0, 3]
    assert rep.self_loops == 1 and rep.duplicates == 2 and rep.reversed_duplicates == 1
    assert rep.n_output == 2


def test_subgraph_components_union():
    a = square()
    b = square().translate([5, 0, 0])
    both = concat_webs([a, b])
    assert both.n_components == 2
    assert [c.n_nodes for c in both.components()] == [4, 4]
    sub, idx = both.subgraph_with_index([4, 5, 6])
    assert sub.n_edges == 2 and idx.tolist() == [4, 5, 6]
    # union with geometric merge: shifted copy shares an edge
    c = square().translate([1, 0, 0])
    u = a.union(c, merge_tol=1e-6)
    assert u.n_nodes == 6 and u.n_edges == 7 and u.n_components == 1
    u2 = a.union(c)
    assert u2.n_nodes == 8 and u2.n_components == 2


def test_merge_close_nodes():
    w = WebGraph([[0, 0, 0], [1e-4, 0, 0], [1, 0, 0]], [[0, 1], [1, 2], [0, 2]])
    m, removed = w.merge_close_nodes(1e-3)
    assert removed == 1 and m.n_nodes == 2 and m.n_edges == 1


def test_transform_and_errors():
    w = square()
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], float)
    t = w.transform(rotation=rot, translation=[1, 2, 3], scale=2)
    np.testing.assert_allclose(t.edge_lengths, 2.0)
    with pytest.raises(InputError, match="rotation"):
        w.transform(rotation=np.diag([1, 1, -1.0]))
    with pytest.raises(InputError, match="scale"):
        w.transform(scale=-1)


def test_networkx_round_trip():
    w = WebGraph(
        [[0, 0, 0], [1, 2, 3], [4, 5, 6]],
        [[0, 1], [1, 2]],
        node_attrs={"anchor": [True, False, False]},
        edge_attrs={"thread": np.array([1, 2], np.int8)},
    )
    g = w.to_networkx()
    assert isinstance(g, nx.Graph) and g.nodes[1]["z"] == 3
    back = WebGraph.from_networkx(g)
    assert back.equals(w)
    assert back.node_attrs["anchor"].tolist() == [True, False, False]


def test_features_match_batch():
    w = square()
    f = conditioning_features(w)
    assert list(f) == list(FEATURE_NAMES)
    assert f["num_edges"] == 4 and f["mean_degree"] == 2.0 and f["mean_abs_dz"] == 0
    assert f["mean_abs_dx"] == pytest.approx(0.5)
    nbrs = -np.ones((1, 6, 5), int)
    for i in range(4):
        nbrs[0, i, :2] = w.neighbors(i)
    pos = np.zeros((1, 6, 3))
    pos[0, :4] = w.pos
    fb = batch_features(pos, nbrs, np.arange(6)[None] < 4)
    np.testing.assert_allclose(fb[0], list(f.values()))


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 30), st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=80))
def test_from_raw_always_valid(n, raw):
    raw = [(i % n, j % n) for i, j in raw]
    w, rep = WebGraph.from_raw(
        np.random.default_rng(0).random((n, 3)), np.array(raw).reshape(-1, 2)
    )
    assert rep.n_output == w.n_edges
    assert len({tuple(e) for e in w.edges.tolist()}) == w.n_edges
    assert (w.edges[:, 0] < w.edges[:, 1]).all()
