import itertools
import json

import networkx as nx
import numpy as np
import pytest

from araneus import FormatError, InputError, WebGraph
from araneus.dataset import build_dataset
from araneus.features import FEATURE_NAMES, features_table
from araneus.metrics import (
    distribution_mmd,
    evaluate,
    fidelity,
    first_geometries,
    first_topologies,
    format_report,
    is_isomorphic,
    mmd2,
    mmd_ratio,
    novel_geometries,
    orbit_counts,
    orientation_shares,
    per_web_structure,
    r2_score,
    same_geometry,
    stack_webs,
    structure_summary,
    topology_hash,
    topology_hashes,
    validity,
    vun,
    web_hash,
)
from synthetic_webs import grid_web, orb_web, tangle_web


def brute_orbits(g: nx.Graph) -> np.ndarray:
    """Induced graphlet orbits by enumerating every 3- and 4-node subset."""
    n = g.number_of_nodes()
    out = np.zeros((n, 15), int)
    a = nx.to_numpy_array(g, nodelist=range(n))
    out[:, 0] = a.sum(1)
    for s in itertools.combinations(range(n), 3):
        sub = a[np.ix_(s, s)]
        if sub.sum() == 6:
            out[list(s), 3] += 1
        elif sub.sum() == 4:
            for v, d in zip(s, sub.sum(1)):
                out[v, 2 if d == 2 else 1] += 1
    for s in itertools.combinations(range(n), 4):
        sub = a[np.ix_(s, s)]
        if not nx.is_connected(nx.from_numpy_array(sub)):
            continue
        ne, dg = int(sub.sum() / 2), sub.sum(1).astype(int)
        for v, d in zip(s, dg):
            if ne == 3:
                o = {1: 6 if 3 in dg else 4, 2: 5, 3: 7}[d]
            elif ne == 4:
                o = 8 if (dg == 2).all() else {1: 9, 2: 10, 3: 11}[d]
            elif ne == 5:
                o = {2: 12, 3: 13}[d]
            else:
                o = 14
            out[v, o] += 1
    return out


@pytest.mark.parametrize("seed", range(6))
def test_orbit_counts_match_brute_force(seed):
    g = nx.gnp_random_graph(9, 0.35 + 0.05 * seed, seed=seed)
    pos = np.random.default_rng(seed).random((9, 3))
    w = WebGraph(pos, np.array(list(g.edges())).reshape(-1, 2))
    oc = orbit_counts(
        stack_webs([w, WebGraph(np.zeros((2, 3)) + [[0, 0, 0], [1, 0, 0]], [[0, 1]]), w])
    )
    want = brute_orbits(g)
    np.testing.assert_array_equal(oc[:9], want)
    np.testing.assert_array_equal(oc[11:], want)
    assert oc[9:11, 0].tolist() == [1, 1] and oc[9:11, 1:].sum() == 0


def test_orbit_known_graphs():
    k4 = WebGraph(
        np.eye(4, 3) + np.arange(4)[:, None] * 0.1, list(itertools.combinations(range(4), 2))
    )
    oc = orbit_counts(stack_webs([k4]))
    assert (oc[:, 14] == 1).all() and (oc[:, 3] == 3).all() and oc[:, 4:14].sum() == 0
    c4 = WebGraph(np.eye(4, 3) + np.arange(4)[:, None] * 0.1, [[0, 1], [1, 2], [2, 3], [0, 3]])
    assert (orbit_counts(stack_webs([c4]))[:, 8] == 1).all()


@pytest.fixture(scope="module")
def samples():
    def cut(web, seed):
        return build_dataset(web, 60, n_min=24, n_max=40, seed=seed, split="none").to_webs()

    from araneus.builders import build

    return {
        "orb_a": cut(build("orb", None, 0), 1),
        "orb_b": cut(build("orb", None, 1), 2),
        "tangle": cut(build("tangle", None, 0), 3),
        "syn_orb": cut(orb_web(seed=0), 4),
        "syn_tangle": cut(tangle_web(seed=0), 5),
    }


@pytest.mark.parametrize("kernel", ["emd", "tv"])
def test_mmd_same_builder_much_smaller(samples, kernel):
    same = distribution_mmd(samples["orb_a"], samples["orb_b"], kernel)
    diff = distribution_mmd(samples["orb_a"], samples["tangle"], kernel)
    # clustering is near 0 in both families (few triangles), so it is not compared here
    emd_only = ("orientation", "edge_length", "rel_edge_length")
    stats = ("degree", "orbit") + (emd_only if kernel == "emd" else ())
    for stat in stats:
        assert same[stat] < 0.2 * diff[stat], (stat, same[stat], diff[stat])
    # summed over the five statistics of issue 4 (a TV distance between 50-bin histograms of
    # ~40 edges is large for any two webs, so rel_edge_length is compared by EMD only)
    five = ("degree", "clustering", "orbit", "edge_length", "orientation")
    assert sum(same[k] for k in five) < 0.3 * sum(diff[k] for k in five)
    syn = distribution_mmd(samples["syn_orb"], samples["orb_a"], kernel)
    syn_far = distribution_mmd(samples["syn_tangle"], samples["orb_a"], kernel)
    assert syn["orbit"] < syn_far["orbit"]
    zero = distribution_mmd(samples["orb_a"], samples["orb_a"], kernel)
    assert max(zero.values()) < 1e-12


def test_mmd2_basics():
    x = np.array([[1.0, 0, 0], [0.5, 0.5, 0]])
    y = np.array([[0.0, 0, 1]])
    assert mmd2(x, x) == pytest.approx(0, abs=1e-12)
    far, near = mmd2(x, y, "emd"), mmd2(x, x[:1], "emd")
    assert far > near > 0
    # EMD between [1,0,0] and [0,0,1] is 2 bins
    assert mmd2(x[:1], y, "emd", sigma=1.0) == pytest.approx(2 - 2 * np.exp(-2.0))
    assert mmd2(x[:1], y, "tv", sigma=1.0) == pytest.approx(2 - 2 * np.exp(-0.5))
    for bad, msg in [({"kernel": "rbf"}, "kernel"), ({"sigma": 0}, "sigma")]:
        with pytest.raises(InputError, match=msg):
            mmd2(x, y, **bad)
    with pytest.raises(InputError, match="at least one"):
        mmd2(np.zeros((0, 3)), y)
    with pytest.raises(InputError, match="differ"):
        mmd2(x, np.zeros((1, 4)))
    with pytest.raises(InputError, match="statistic"):
        distribution_mmd([WebGraph(np.eye(3))], [WebGraph(np.eye(3))], statistics=["size"])


def test_fidelity_on_data_itself_is_one():
    ds = build_dataset(grid_web(), 80, seed=0)
    measured = features_table(ds.to_webs())
    f = fidelity(ds.features, measured, ds.feature_names)
    assert f["pooled_r2"] == pytest.approx(1.0, abs=1e-9)
    for name in FEATURE_NAMES:
        assert f["per_feature"][name]["r2"] == pytest.approx(1.0, abs=1e-9)
        assert f["per_feature"][name]["mae"] < 1e-9
    noisy = measured * np.random.default_rng(0).normal(1, 0.2, measured.shape)
    g = fidelity(ds.features, noisy, ds.feature_names)
    assert g["pooled_r2"] < 0.99 and g["per_feature"]["num_nodes"]["rel_err"] > 0.05
    req = ds.features.copy()
    req[:, 2] = np.nan  # free feature
    h = fidelity(req, measured, ds.feature_names)
    assert "mean_abs_dy" not in h["per_feature"]
    with pytest.raises(InputError, match="requested"):
        fidelity(ds.features[:, :3], measured, ds.feature_names)


def test_validity_checks():
    ok = WebGraph(np.eye(3), [[0, 1], [1, 2]])
    assert validity(ok)["valid"]
    assert not validity(WebGraph(np.eye(3), [[0, 1]]))["connected"]
    star = WebGraph(np.vstack([np.zeros(3), np.eye(3), -np.eye(3)]), [[0, i] for i in range(1, 7)])
    assert not validity(star, K=5)["degree_cap"] and validity(star, K=6)["valid"]
    zero = WebGraph([[0, 0, 0], [0, 0, 0], [1, 0, 0]], [[0, 1], [1, 2]])
    assert not validity(zero)["no_zero_length"]
    assert not validity(WebGraph(np.zeros((0, 3))))["valid"]


def test_hash_and_vun():
    webs = build_dataset(grid_web(), 30, seed=0, split="none").to_webs()
    w = webs[0]
    perm = np.random.default_rng(0).permutation(w.n_nodes)
    assert web_hash(w) == web_hash(w.subgraph(perm))
    assert web_hash(w) != web_hash(w.translate([0.0, 0.0, 0.0]).replace(pos=w.pos * 1.1))
    # same geometry, one edge changed -> different topology hash
    e = w.edges.copy()
    e = e[1:]
    assert web_hash(w) != web_hash(w.replace(edges=e))
    assert topology_hash(w) != topology_hash(w.replace(edges=e))
    assert len(set(topology_hashes(webs[:10]))) == 10  # the test below needs 10 topologies
    bad = WebGraph(np.eye(3), [[0, 1]])
    gen = webs[:10] + webs[:5] + [bad]
    r = vun(gen, train=webs[5:10])
    assert r["n"] == 16 and r["valid"] == pytest.approx(15 / 16)
    assert r["unique_topology"] == pytest.approx(10 / 15)
    assert r["novel_topology"] == pytest.approx(10 / 15)  # webs[5:10] are in train
    assert r["vun"] == pytest.approx(5 / 16)
    assert r["unique_geometry"] == pytest.approx(10 / 15)
    assert r["novel_geometry"] == pytest.approx(10 / 15)
    assert r["failures"]["connected"] == 1
    assert vun(gen)["novel_topology"] is None and vun(gen)["novel_geometry"] is None


def _moved(w: WebGraph, seed: int, jitter: float = 0.0) -> WebGraph:
    """``w`` with renumbered nodes, translated, with Gaussian jitter (x mean edge length)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(w.n_nodes)
    ell = w.edge_lengths.mean()
    m = w.subgraph(perm)
    return m.replace(pos=m.pos + [3.0, -2.0, 7.0] + rng.normal(0, jitter * ell, m.pos.shape))


def test_isomorphic_webs_with_other_coordinates_are_one_topology():
    w = build_dataset(grid_web(), 5, seed=1, split="none").to_webs()[0]
    rng = np.random.default_rng(3)
    other = _moved(w, 1).replace(pos=rng.uniform(-50, 50, (w.n_nodes, 3)))  # new positions
    assert topology_hash(other) == topology_hash(w) and is_isomorphic(other, w)
    assert topology_hashes([w, other, w]) == [topology_hash(w)] * 3  # batch-independent
    r = vun([w, other], train=[_moved(w, 2)])
    assert r["unique_topology"] == 0.5 and r["novel_topology"] == 0.0 and r["vun"] == 0.0
    assert r["unique_geometry"] == 1.0 and r["novel_geometry"] == 0.5


def test_topology_is_exact_where_weisfeiler_lehman_is_not():
    ring = np.stack([np.cos(np.arange(6)), np.sin(np.arange(6)), np.zeros(6)], 1)
    c6 = WebGraph(ring, [[i, (i + 1) % 6] for i in range(6)])
    two_c3 = WebGraph(ring, [[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5]])
    prism = WebGraph(ring, [[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5], [0, 3], [1, 4],
                            [2, 5]])  # fmt: skip
    k33 = WebGraph(ring, [[i, j] for i in (0, 2, 4) for j in (1, 3, 5)])
    for a, b in [(c6, two_c3), (prism, k33)]:  # regular pairs: colour refinement is blind
        assert topology_hash(a) == topology_hash(b)
        assert not is_isomorphic(a, b)
        assert first_topologies([a, b]).tolist() == [True, True]
    assert first_topologies([prism, k33, prism.subgraph([5, 4, 3, 2, 1, 0])]).tolist() == [
        True, True, False,
    ]  # fmt: skip
    path = WebGraph(np.eye(4, 3) * 2 + np.arange(4)[:, None], [[0, 1], [1, 2], [2, 3]])
    star = WebGraph(np.eye(4, 3) * 2 + np.arange(4)[:, None], [[0, 1], [0, 2], [0, 3]])
    assert topology_hash(path) != topology_hash(star)


def test_same_geometry_within_the_stated_tolerance():
    w = build_dataset(grid_web(), 5, seed=2, split="none").to_webs()[1]
    assert same_geometry(w, _moved(w, 0))  # renumbered and translated
    assert same_geometry(w, _moved(w, 0, jitter=0.005))
    assert not same_geometry(w, _moved(w, 0, jitter=0.2))
    # one node moved by 0.04 mean edge lengths: the same at tolerance 0.05, not at 0.03
    ell = w.edge_lengths.mean()
    pos = w.pos.copy()
    pos[0, 0] += 0.04 * ell
    v = w.replace(pos=pos)
    assert same_geometry(w, v, tol=0.05) and not same_geometry(w, v, tol=0.03)
    rot = w.replace(pos=w.pos[:, [1, 0, 2]] * [-1, 1, 1])  # rotated 90 deg about z
    assert not same_geometry(w, rot) and is_isomorphic(w, rot)
    assert not same_geometry(w, w.subgraph(np.arange(w.n_nodes - 1)))  # another node count
    assert first_geometries([w, rot, _moved(w, 4, 0.005)]).tolist() == [True, True, False]
    assert novel_geometries([w, rot], [_moved(w, 5)]).tolist() == [False, True]
    with pytest.raises(InputError, match="tolerance"):
        vun([w], geometry_tol=-1)


def test_triangle_rate_and_leaf_share_known_graphs():
    k3 = WebGraph(np.eye(3), [[0, 1], [1, 2], [0, 2]])
    p3 = WebGraph(np.eye(3), [[0, 1], [1, 2]])
    k4 = WebGraph(
        np.vstack([np.eye(3), [[1.0, 1.0, 1.0]]]), list(itertools.combinations(range(4), 2))
    )
    assert structure_summary([k3]) == {"triangles_per_web": 1.0, "webs_with_triangle": 1.0,
                                       "leaf_share": 0.0}  # fmt: skip
    assert structure_summary([p3])["leaf_share"] == pytest.approx(2 / 3)
    assert per_web_structure([k4, p3, k3])["triangles"].tolist() == [4, 0, 1]
    s = structure_summary([k3, p3])
    assert s["triangles_per_web"] == 0.5 and s["webs_with_triangle"] == 0.5
    assert s["leaf_share"] == pytest.approx(1 / 3)
    rep = evaluate([k3, k3], [p3, p3])
    st = rep["structure"]
    assert st["generated"]["triangles_per_web"] == 1.0 and st["reference"]["triangles_per_web"] == 0
    assert st["ratio"]["triangles_per_web"]["ratio"] is None
    assert "the data has none" in st["ratio"]["triangles_per_web"]["note"]
    assert st["ratio"]["leaf_share"]["ratio"] == 0.0  # triangles have no loose ends


def test_evaluate_report_json(samples):
    gen = samples["orb_a"][:20]
    for w in gen:
        w.meta["requested"] = {"num_nodes": w.n_nodes, "mean_edge_length": None}
    rep = evaluate(gen, samples["orb_b"][:20], train=samples["orb_b"],
                   baseline=samples["orb_b"][20:40], label="copies of data")  # fmt: skip
    json.dumps(rep)
    assert rep["fidelity"]["per_feature"]["num_nodes"]["r2"] == pytest.approx(1.0)
    assert rep["fidelity"]["per_feature"]["num_nodes"]["median_rel_err"] == 0.0
    assert "mean_edge_length" not in rep["fidelity"]["per_feature"]
    assert rep["fidelity"]["orientation_shares"] is None  # no orientation requested
    assert all(r["ratio"] is not None for r in rep["mmd_ratio"].values())
    text = format_report(rep)
    for want in ("V.U.N.", "graphlet orbits", "pooled R^2", "headline length", "leaf",
                 "copies of data", "decoder repairs: not recorded", "isomorphism"):  # fmt: skip
        assert want in text, want
    with pytest.raises(InputError):
        evaluate([], gen)
    with pytest.raises(InputError, match="baseline"):
        evaluate(gen, gen, baseline=[])


def test_r2_undefined_when_the_requested_values_do_not_vary():
    req = np.full((6, 2), [40.0, 2.5])
    got = req + [[3e-6, 0.0]] * 6  # one condition met within 3e-6
    f = fidelity(req, got, ["num_nodes", "mean_degree"])
    for name in ("num_nodes", "mean_degree"):
        d = f["per_feature"][name]
        assert d["r2"] is None and "do not vary" in d["r2_note"]
    assert f["per_feature"]["num_nodes"]["median_rel_err"] == pytest.approx(3e-6 / 40)
    assert f["pooled_r2"] is None and "requested values vary" in f["pooled_note"]
    assert r2_score(np.array([1.0]), np.array([1.0]))[0] is None
    # one varying feature: pooled over it alone, said so
    req2 = np.column_stack([req[:, 0], np.linspace(2, 3, 6)])
    g = fidelity(req2, req2, ["num_nodes", "mean_degree"])
    assert g["pooled_r2"] == pytest.approx(1.0) and "not num_nodes" in g["pooled_note"]
    webs = [grid_web(3, 3, 1, seed=s) for s in range(4)]
    for w in webs:
        w.meta["requested"] = {"num_nodes": 9.0}
    text = format_report(evaluate(webs, webs))
    assert "R^2 0.0000" not in text and "undefined" in text


def test_relative_errors_known_values():
    f = fidelity(np.array([[10.0], [20.0], [0.0]]), np.array([[11.0], [18.0], [5.0]]), ["a"])
    d = f["per_feature"]["a"]
    assert d["median_rel_err"] == pytest.approx(0.1) and d["rel_err"] == pytest.approx(0.1)
    assert d["n_rel"] == 2 and d["n"] == 3  # a request of 0 has no relative error
    assert d["mae"] == pytest.approx(8 / 3)


def test_mmd_ratio_guarded_against_a_degenerate_baseline(samples):
    same = distribution_mmd(samples["orb_a"], samples["orb_a"])
    assert max(same.values()) < 1e-12
    r = mmd_ratio(0.037, same["degree"])
    assert r["ratio"] is None and "below the floor" in r["note"]
    assert mmd_ratio(0.02, 0.01)["ratio"] == pytest.approx(2.0)
    assert mmd_ratio(0.02, 1e-7, floor=1e-8)["ratio"] == pytest.approx(2e5)  # stated floor
    assert mmd_ratio(float("nan"), 0.01)["ratio"] is None
    rep = evaluate(samples["tangle"][:10], samples["orb_a"], baseline=samples["orb_a"])
    assert all(v["ratio"] is None for v in rep["mmd_ratio"].values())
    assert "no ratio" in format_report(rep)


def test_relative_length_mmd_is_scale_free(samples):
    webs = samples["orb_a"][:15]
    big = [w.replace(pos=w.pos * 10.0) for w in webs]
    m = distribution_mmd(webs, big, statistics=["rel_edge_length", "edge_length"])
    assert m["rel_edge_length"] < 1e-12 and m["edge_length"] > 0.1
    st = ["rel_edge_length"]
    far = distribution_mmd(webs, samples["tangle"][:15], statistics=st)[st[0]]
    near = distribution_mmd(webs, samples["orb_b"][:15], statistics=st)[st[0]]
    assert far > 10 * near


def test_orientation_shares_known_web():
    w = WebGraph([[0, 0, 0], [2, 0, 0], [2, 0, 1]], [[0, 1], [1, 2]])
    sh = orientation_shares(features_table([w]), FEATURE_NAMES)
    np.testing.assert_allclose(sh, [[2 / 3, 0.0, 1 / 3]])
    w.meta["requested"] = dict(zip(FEATURE_NAMES, features_table([w])[0].tolist()))
    rep = evaluate([w, w], [w])
    sh = rep["fidelity"]["orientation_shares"]["per_feature"]
    assert sh["share_x"]["median_rel_err"] == 0.0 and sh["share_y"]["n_rel"] == 0


@pytest.mark.parametrize("k", [0, -2, 2.5, True])
def test_vun_rejects_bad_degree_cap(k):
    with pytest.raises(InputError, match="K"):
        vun([grid_web(3, 3, 1)], K=k)


def _cli(args: list[str]) -> int:
    from araneus.cli import main

    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_evaluate_reads_the_folder_generate_writes(tmp_path, capsys):
    from _models_synth import synth_dataset

    data = synth_dataset(40, seed=2, K=4, L=24)
    path, run = tmp_path / "d.npz", tmp_path / "run"
    data.save(path)
    train = ["train", "--model", "sparse", "--data", str(path), "--out", str(run), "--steps", "2"]
    assert _cli(train + ["--batch-size", "8", "--no-progress", "--set", "width=16",
                         "--set", "depth=1"]) == 0  # fmt: skip
    for fmt in ("csv", "json"):  # CSV: two files per web, neither of them the table
        out = tmp_path / f"gen_{fmt}"
        gen = ["generate", str(run), "-c", "num_nodes=12", "-c", "mean_edge_length=1.5",
               "--n", "4", "--steps", "2", "--format", fmt, "--out", str(out)]  # fmt: skip
        assert _cli(gen) == 0
        capsys.readouterr()
        rep_path = tmp_path / f"rep_{fmt}.json"
        args = ["evaluate", str(out), "--reference", str(path), "--reference-split", "test",
                "--train", str(path), "--json", str(rep_path)]  # fmt: skip
        assert _cli(args) == 0, capsys.readouterr().err
        text = capsys.readouterr().out
        rep = json.loads(rep_path.read_text())
        assert rep["n_generated"] == 4 and rep["label"] == "sparse, constrained (exact=true)"
        nodes = rep["fidelity"]["per_feature"]["num_nodes"]
        assert nodes["r2"] is None and nodes["n"] == 4  # one condition: R^2 undefined
        assert "mean_degree" not in rep["fidelity"]["per_feature"]  # left free
        assert rep["repair"]["samples"] == 4 and rep["n_baseline"] == 4
        assert "undefined" in text and "decoder repairs" in text and "R^2 0.0000" not in text
    (tmp_path / "gen_json" / "features.csv").write_text(
        "file,requested_num_nodes\nweb_0000.json,abc\n"
    )
    assert _cli(["evaluate", str(tmp_path / "gen_json"), "--reference", str(path)]) == 2
    assert "requested_num_nodes 'abc' is not a number" in capsys.readouterr().err
    (tmp_path / "gen_json" / "features.csv").write_text("file,requested_num_nodes\n../x.json,1\n")
    assert _cli(["evaluate", str(tmp_path / "gen_json"), "--reference", str(path)]) == 2
    assert "must name a file in the folder" in capsys.readouterr().err


def test_load_generated_other_sources_and_bad_info(tmp_path):
    from araneus.io import write_web
    from araneus.metrics import load_generated

    ds = build_dataset(grid_web(), 6, seed=0, split="none")
    ds.save(tmp_path / "d.npz")
    got = load_generated(tmp_path / "d.npz", limit=4)
    assert len(got.webs) == 4 and got.requested is None and got.decode_stats is None
    folder = tmp_path / "plain"
    folder.mkdir()
    for i, w in enumerate(ds.to_webs()[:3]):
        w.meta["requested"] = {"num_nodes": float(w.n_nodes)}
        write_web(w, folder / f"w{i}.json")
    got = load_generated(folder)
    assert len(got.webs) == 3 and np.isfinite(got.requested[:, 4]).all()
    (folder / "features.csv").write_text(
        "file,requested_num_nodes,achieved_num_nodes\nw0.json,5,5\nw2.json,,7\n"
    )
    (folder / "generation.json").write_text('{"model": "x", "decode_stats": {"repair_rate": 0.5}}')
    got = load_generated(folder)
    assert len(got.webs) == 2 and got.requested[0, 4] == 5 and np.isnan(got.requested[1, 4])
    assert got.decode_stats == {"repair_rate": 0.5} and got.info == {"model": "x"}
    for bad in ("[1, 2]", '{"decode_stats": {"repair_rate": "high"}}', "{"):
        (folder / "generation.json").write_text(bad)
        with pytest.raises(FormatError, match="generation.json"):
            load_generated(folder)
