import argparse

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from araneus import FormatError, InputError, WebGraph
from araneus.dataset import Normaliser, WebDataset, build_dataset, load_reference
from araneus.features import FEATURE_NAMES, batch_features, feature_vector
from synthetic_webs import grid_web, orb_web


@pytest.fixture(scope="module")
def grid():
    return grid_web()


@pytest.fixture(scope="module", params=["rw", "bfs", "crop"])
def ds(request, grid):
    return build_dataset(grid, 300, sampler=request.param, n_min=10, n_max=40, seed=3)


def test_shapes_and_contract(ds):
    s, length, k = ds.nbrs.shape
    assert (s, length, k) == (300, 40, 5)
    assert ds.pos.dtype == np.float32 and ds.nbrs.dtype == np.int64 and ds.mask.dtype == bool
    assert ds.features.shape == (300, 7) and ds.feature_names == FEATURE_NAMES
    n = ds.n_nodes
    assert n.min() >= 10 and n.max() <= 40
    # centroid-relative positions, zero padding
    cen = ds.pos.sum(axis=1) / n[:, None]
    np.testing.assert_allclose(cen, 0, atol=1e-4)
    assert (ds.pos[~ds.mask] == 0).all()
    # valid neighbours first and ascending, then -1
    v = ds.nbrs >= 0
    assert not (v[..., 1:] & ~v[..., :-1]).any()
    assert not (v[..., 1:] & v[..., :-1] & (ds.nbrs[..., 1:] <= ds.nbrs[..., :-1])).any()
    # features recomputed equal the features of the decoded webs and of batch_features
    np.testing.assert_allclose(ds.features, batch_features(ds.pos, ds.nbrs, ds.mask), rtol=1e-9)
    for i in (0, 57, 299):
        w = ds[i]
        assert isinstance(w, WebGraph) and w.n_components == 1
        np.testing.assert_allclose(feature_vector(w), ds.features[i], rtol=1e-9, atol=1e-12)


def test_canonical_bfs_order(ds):
    a = ds.adjacency()
    for i in range(0, 300, 37):
        n = int(ds.n_nodes[i])
        adj = a[i, :n, :n]
        assert (adj == adj.T).all()
        # BFS order: every node after the root has an earlier neighbour; parents non-decreasing
        parent = np.array([np.flatnonzero(adj[j, :j])[0] for j in range(1, n)])
        assert (np.diff(parent) >= 0).all()
        # root is the node nearest the centroid
        d = np.linalg.norm(ds.pos[i, :n].astype(float), axis=1)
        assert d[0] <= d.min() + 1e-5
    rows = np.nonzero(ds.nbrs >= 0)
    assert ds.meta["bandwidth"] == int(np.abs(rows[1] - ds.nbrs[rows]).max())


def test_order_invariant_to_input_numbering(grid):
    w = grid.subgraph(np.arange(0, 60))
    perm = np.random.default_rng(1).permutation(w.n_nodes)
    w2 = w.subgraph(perm)
    d1, d2 = WebDataset.from_webs([w]), WebDataset.from_webs([w2])
    np.testing.assert_array_equal(d1.nbrs, d2.nbrs)
    np.testing.assert_allclose(d1.pos, d2.pos, atol=1e-6)


def test_deterministic_and_seed_dependent(grid):
    a = build_dataset(grid, 50, seed=7, rotate=True, jitter=0.05)
    b = build_dataset(grid, 50, seed=7, rotate=True, jitter=0.05)
    c = build_dataset(grid, 50, seed=8, rotate=True, jitter=0.05)
    np.testing.assert_array_equal(a.pos, b.pos)
    np.testing.assert_array_equal(a.nbrs, b.nbrs)
    assert not np.array_equal(a.pos, c.pos)


def test_augmentation_recomputes_features(grid):
    plain = build_dataset(grid, 40, seed=2)
    rot = build_dataset(grid, 40, seed=2, rotate=True, reflect=True)
    np.testing.assert_array_equal(plain.nbrs.shape, rot.nbrs.shape)
    # rotation about z keeps lengths and |dz| but changes |dx|, |dy|
    np.testing.assert_allclose(rot.features[:, [0, 3, 4, 5, 6]], plain.features[:, [0, 3, 4, 5, 6]],
                               rtol=1e-5)  # fmt: skip
    assert not np.allclose(rot.features[:, 1], plain.features[:, 1])
    for i in (0, 13):
        np.testing.assert_allclose(feature_vector(rot[i]), rot.features[i], rtol=1e-9)


def test_degree_cap_rule_and_count():
    # hub with 8 spokes of increasing length: K=5 keeps the 5 shortest
    pos = np.zeros((9, 3))
    pos[1:, 0] = np.arange(1, 9)
    pos[1:, 1] = 0.1 * np.arange(8)  # distinct positions
    star = WebGraph(pos, [[0, i] for i in range(1, 9)])
    ds = WebDataset.from_webs([star], K=5)
    assert ds.meta["degree_cap"]["dropped_edges"] == 3
    w = ds[0]
    assert w.degrees.max() == 5 and w.n_edges == 5
    np.testing.assert_allclose(np.sort(w.edge_lengths), np.linalg.norm(pos[1:6], axis=1), rtol=1e-6)


def test_source_degree_cap_counted():
    w = orb_web()  # degree 4, so K=3 must drop edges
    ds = build_dataset(w, 30, K=3, n_min=8, n_max=20, seed=0)
    assert ds.meta["counts"]["degree_cap_dropped_edges"] > 0
    assert (ds.nbrs[..., 2:] >= 0).sum() > 0 and ds.nbrs.shape[2] == 3


def test_region_split_no_overlap(grid):
    r = build_dataset(grid, 200, split="region", seed=1)
    assert r.meta["split_overlap"] == {"val_nodes_in_train": 0.0, "test_nodes_in_train": 0.0}
    rnd = build_dataset(grid, 200, split="random", seed=1)
    assert rnd.meta["split_overlap"]["val_nodes_in_train"] > 0.5
    assert np.bincount(r.split).tolist() == [160, 20, 20]
    assert (np.diff(r.split) >= 0).all()
    tr = r.subset("train")
    assert len(tr) == 160 and np.shares_memory(tr.pos, r.pos) and tr.pos.base is not None
    assert len(r.subset("test")) == 20 and (r.subset("test").split == 2).all()


def test_normaliser_fit_on_train_only(grid):
    ds = build_dataset(grid, 200, split="region", seed=4)
    tr = ds.split == 0
    norm = ds.normaliser
    np.testing.assert_allclose(norm.feat_min, ds.features[tr].min(axis=0))
    np.testing.assert_allclose(norm.feat_max, ds.features[tr].max(axis=0))
    z = norm.transform_features(ds.features[tr])
    assert z.min() >= -1 - 1e-12 and z.max() <= 1 + 1e-12
    np.testing.assert_allclose(norm.inverse_features(norm.transform_features(ds.features)),
                               ds.features, rtol=1e-12, atol=1e-9)  # fmt: skip
    assert np.abs(norm.transform_positions(ds.pos[tr][ds.mask[tr]])).max() <= 1 + 1e-6
    n2 = Normaliser.from_dict(norm.to_dict())
    np.testing.assert_array_equal(n2.feat_max, norm.feat_max)
    with pytest.raises(InputError, match="normaliser"):
        Normaliser.from_dict({"pos_scale": 1.0})
    with pytest.raises(InputError):
        norm.transform_features(np.zeros(3))


def test_save_load_roundtrip(tmp_path, grid):
    ds = build_dataset(grid, 60, split="region", seed=0, extra_features=["extent_z", "max_degree"])
    p = tmp_path / "d.npz"
    ds.save(p)
    d2 = WebDataset.load(p)
    for name in ("pos", "nbrs", "mask", "features", "split", "origin", "source_id"):
        np.testing.assert_array_equal(getattr(d2, name), getattr(ds, name))
    assert d2.feature_names == ds.feature_names and d2.meta["sampler"] == ds.meta["sampler"]
    assert d2.normaliser.to_dict() == ds.normaliser.to_dict()
    assert ds.feature_names[-2:] == ("extent_z", "max_degree")
    assert (ds.features[:, -1] <= 5).all()


def _tamper(src, dst, **changes):
    with np.load(src) as z:
        data = {k: z[k] for k in z.files}
    data.update(changes)
    with open(dst, "wb") as fh:
        np.savez(fh, **data)


def test_corrupt_files(tmp_path, grid):
    ds = build_dataset(grid, 20, seed=0)
    good = tmp_path / "good.npz"
    ds.save(good)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(FormatError, match="bad.npz"):
        WebDataset.load(bad)
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(FormatError):
        WebDataset.load(bad)
    with pytest.raises(FormatError, match="no such"):
        WebDataset.load(tmp_path / "missing.npz")
    nb = ds.nbrs.copy()
    nb[0, 0, 0], nb[0, 0, 1:] = nb[0, 0, 1], -1  # break symmetry / ordering
    nb[0, 0, 0] = 39
    _tamper(good, bad, nbrs=nb)
    with pytest.raises(FormatError, match="nbrs"):
        WebDataset.load(bad)
    _tamper(good, bad, header=np.frombuffer(b"{oops", dtype=np.uint8))
    with pytest.raises(FormatError, match="header"):
        WebDataset.load(bad)
    _tamper(good, bad, split=np.full(20, 7, np.int8))
    with pytest.raises(FormatError, match="split"):
        WebDataset.load(bad)
    _tamper(good, bad, features=np.full((20, 7), np.nan))
    with pytest.raises(FormatError, match="finite"):
        WebDataset.load(bad)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"n_min": 30, "n_max": 20}, "n_min"),
        ({"K": 0}, "K"),
        ({"n": 0}, "n "),
        ({"n_max": 500}, "n_max"),
        ({"sampler": "dfs"}, "sampler"),
        ({"split": "time"}, "split"),
        ({"fractions": (1, -1, 0)}, "fractions"),
        ({"extra_features": ["colour"]}, "colour"),
        ({"jitter": float("nan")}, "jitter"),
    ],
)
def test_bad_arguments(grid, kwargs, msg):
    args = {"n": 10, **kwargs}
    with pytest.raises(InputError, match=msg):
        build_dataset(grid, **args)


def test_bad_sources():
    with pytest.raises(InputError, match="empty"):
        build_dataset(WebGraph(np.zeros((0, 3))), 5)
    small = WebGraph(np.eye(3), [[0, 1], [1, 2]])
    with pytest.raises(InputError, match="n_min"):
        build_dataset(small, 5, n_min=16)
    with pytest.raises(InputError, match="source"):
        build_dataset([], 5)
    with pytest.raises(InputError, match="L="):
        WebDataset.from_webs([small], L=2)
    with pytest.raises(InputError):
        WebDataset.from_webs([])


def test_from_webs_disconnected_and_views():
    a = WebGraph([[0, 0, 0], [1, 0, 0], [5, 5, 0], [6, 5, 0]], [[0, 1], [2, 3]])
    ds = WebDataset.from_webs([a, a.subgraph([0, 1])], K=2, L=6)
    assert ds.mask.sum(axis=1).tolist() == [4, 2]
    assert ds[0].n_edges == 2 and ds[0].n_components == 2
    adj = ds.adjacency([0])
    assert adj.shape == (1, 6, 6) and adj.sum() == 4
    assert len(ds.to_webs()) == 2
    with pytest.raises(InputError, match="out of range"):
        ds[5]
    sub = ds.subset(np.array([1, 0]))
    assert sub.mask.sum(axis=1).tolist() == [2, 4]


def _write_reference(path, with_pickle=False):
    import torch

    k, lr = 5, 6
    inp = torch.zeros(2, lr, 4 + 2 * k)
    # sample 0: path 1-2-3 plus node 4 joined to 1 (1-based), listed on one side only
    inp[0, :4, 0] = torch.arange(1, 5)
    inp[0, :4, 1:4] = torch.tensor([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0]])
    inp[0, 0, 4:6] = torch.tensor([2.0, 4])
    inp[0, 1, 4:6] = torch.tensor([1.0, 3])
    inp[0, 2, 4] = 9.0  # dangling (only 4 nodes)
    # sample 1: triangle
    inp[1, :3, 1:4] = torch.tensor([[0.0, 0, 1], [1, 0, 1], [0, 1, 1]])
    inp[1, 0, 4:6] = torch.tensor([2.0, 3])
    inp[1, 1, 4:6] = torch.tensor([1.0, 3])
    inp[1, 2, 4:6] = torch.tensor([1.0, 2])
    extra = argparse.Namespace(note="needs pickle") if with_pickle else "y"
    tup = (inp, torch.zeros(2, 7), [4, 3], ["a", "b", extra], lr, 3, k)
    torch.save(tup, path)


def test_reference_import(tmp_path):
    p = tmp_path / "dataset_webs_medium.pt"
    _write_reference(p)
    ds = load_reference(p)
    assert len(ds) == 2 and ds.K == 5 and ds.L == 6
    assert ds.n_nodes.tolist() == [4, 3]
    assert ds[0].n_edges == 3 and ds[1].n_edges == 3
    assert ds.meta["reference_import"]["dangling_dropped"] == 1
    np.testing.assert_allclose(feature_vector(ds[1]), ds.features[1])


def test_reference_import_refuses_pickle(tmp_path):
    p = tmp_path / "evil.pt"
    _write_reference(p, with_pickle=True)
    with pytest.raises(FormatError, match="allow_pickle"):
        load_reference(p)
    assert len(load_reference(p, allow_pickle=True)) == 2
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(FormatError):
        load_reference(junk)


def test_default_dataset_if_builders():
    pytest.importorskip("araneus.builders")
    from araneus.dataset import default_dataset

    ds = default_dataset(n=300, seed=0)
    assert len(ds) == 300 and len(ds.meta["sources"]) == 18
    lo, hi = ds.features.min(axis=0), ds.features.max(axis=0)
    assert hi[0] > 2.5 * lo[0]  # edge length spans the scales


def test_cli_build_info_evaluate(tmp_path):
    import json

    from typer.testing import CliRunner

    from araneus.cli import app
    from araneus.io import write_web

    src = tmp_path / "web.json"
    write_web(orb_web(), src)
    out = tmp_path / "d.npz"
    run = CliRunner().invoke
    r = run(app, ["dataset", "build", "--source", str(src), "--n", "120", "--split", "region",
                  "--n-min", "10", "--n-max", "30", "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "120 samples" in r.output and len(WebDataset.load(out)) == 120
    r = run(app, ["dataset", "info", str(out), "--plot", str(tmp_path / "h.png")])
    assert (
        r.exit_code == 0 and "mean_edge_length" in r.output and (tmp_path / "h.png").stat().st_size
    )
    gen = tmp_path / "gen"
    gen.mkdir()
    for i, w in enumerate(WebDataset.load(out).to_webs(range(5))):
        write_web(w, gen / f"g{i}.json")
    rep = tmp_path / "r.json"
    r = run(app, ["evaluate", str(gen), "--reference", str(out), "--reference-split", "test",
                  "--json", str(rep)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(rep.read_text())["n_generated"] == 5 and "V.U.N." in r.output
    r = run(app, ["dataset", "build", "--n", "5", "--out", str(out)])
    assert r.exit_code != 0 and isinstance(r.exception, InputError)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 20),
    p=st.floats(0.05, 0.6),
    seed=st.integers(0, 10_000),
    k=st.integers(1, 6),
)
def test_from_webs_roundtrip_property(n, p, seed, k):
    """Encoding then decoding gives the same web up to node order (after the degree cap)."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(size=(n, 3))
    iu = np.array(np.triu_indices(n, 1)).T
    edges = iu[rng.random(len(iu)) < p]
    w = WebGraph(pos, edges)
    ds = WebDataset.from_webs([w], K=k, L=n + 2)
    back = ds[0]
    assert back.n_nodes == n and back.degrees.max(initial=0) <= k
    assert ds.meta["degree_cap"]["dropped_edges"] == w.n_edges - back.n_edges
    if w.degrees.max(initial=0) <= k:
        assert back.n_edges == w.n_edges
    # map decoded nodes back to the original via the origin array
    org = ds.origin[0, :n]
    assert sorted(org.tolist()) == list(range(n))
    np.testing.assert_allclose(back.pos + w.pos.mean(axis=0), w.pos[org], atol=1e-5)
    orig_set = {tuple(e) for e in np.sort(org[back.edges], axis=1).tolist()}
    assert orig_set <= {tuple(e) for e in w.edges.tolist()}
    np.testing.assert_allclose(feature_vector(back), ds.features[0], rtol=1e-9, atol=1e-12)


def test_bad_seed_and_single_web_file_give_clear_errors(grid, tmp_path):
    from araneus.dataset.files import load_webs
    from araneus.io import write_web

    for seed in (-1, 1.5, "3"):
        with pytest.raises(InputError, match="seed"):
            build_dataset(grid, 5, seed=seed)
    one = tmp_path / "one.json"
    write_web(grid, one)
    with pytest.raises(FormatError, match="single web file"):
        load_webs(one)


def test_limit_and_garbage_reference_file(tmp_path):
    from araneus.dataset.files import load_webs

    with pytest.raises(InputError, match="limit"):
        load_webs(tmp_path, limit=0)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FormatError, match="not a readable torch file"):
        load_reference(junk)


def test_save_to_a_directory_is_a_clear_error(grid, tmp_path):
    ds = build_dataset(grid, 5, n_min=4, n_max=8, seed=0)
    with pytest.raises(InputError, match="directory"):
        ds.save(tmp_path)


def test_depth_first_order_keeps_threads_consecutive(ds):
    from araneus.dataset.encode import depth_first_permutation, permute_nodes

    # a path of 6 nodes numbered out of order
    nb = np.full((2, 8, 3), -1)
    path = [3, 0, 4, 1, 5, 2]
    for a, b in zip(path, path[1:]):
        nb[0, a, (nb[0, a] >= 0).sum()], nb[0, b, (nb[0, b] >= 0).sum()] = b, a
    mask = np.zeros((2, 8), bool)
    mask[0, :6] = True
    perm = depth_first_permutation(nb, mask)
    path = path[::-1]  # the walk starts at the loose end with the smaller index, 2
    assert list(perm[0, :6]) == path and (perm[0, 6:] == -1).all()
    assert (perm[1] == -1).all()  # an empty sample
    pos = np.random.default_rng(0).normal(size=(2, 8, 3)) * mask[..., None]
    p2, n2 = permute_nodes(pos, nb, perm)
    np.testing.assert_array_equal(p2[0, :6], pos[0, path])
    assert [sorted(n2[0, r][n2[0, r] >= 0]) for r in range(6)] == [
        [1], [0, 2], [1, 3], [2, 4], [3, 5], [4]]  # fmt: skip
    assert (p2[0, 6:] == 0).all() and (n2[0, 6:] == -1).all()
    # a real dataset: same graph (edges as position pairs), every node after the first of
    # its sample has an earlier neighbour, and most edges join consecutive nodes
    perm = depth_first_permutation(ds.nbrs, ds.mask)
    p2, n2 = permute_nodes(ds.pos, ds.nbrs, perm)
    idx = np.arange(ds.nbrs.shape[1])[None, :, None]
    for i in range(0, len(ds), 41):
        n = int(ds.n_nodes[i])

        def edges(p, nbr, n=n):
            r, k = np.nonzero(nbr[:n] >= 0)
            return sorted(tuple(sorted((tuple(p[a]), tuple(p[b])))) for a, b in zip(r, nbr[r, k]))

        assert edges(ds.pos[i], ds.nbrs[i]) == edges(p2[i], n2[i])
        assert all((n2[i, r][n2[i, r] >= 0] < r).any() for r in range(1, n))
    back = np.where((n2 >= 0) & (n2 < idx), idx - n2, 0)
    ones = (back == 1).sum() / (back > 0).sum()
    fwd = np.where((ds.nbrs >= 0) & (ds.nbrs < idx), idx - ds.nbrs, 0)
    assert ones > (fwd == 1).sum() / (fwd > 0).sum()
