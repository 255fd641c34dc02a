import itertools
import json

import networkx as nx
import numpy as np
import pytest

from araneus import InputError, WebGraph
from araneus.dataset import build_dataset
from araneus.features import FEATURE_NAMES, features_table
from araneus.metrics import (
    distribution_mmd,
    evaluate,
    fidelity,
    format_report,
    mmd2,
    orbit_counts,
    stack_webs,
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
    stats = ("degree", "orbit") + (("orientation", "edge_length") if kernel == "emd" else ())
    for stat in stats:
        assert same[stat] < 0.2 * diff[stat], (stat, same[stat], diff[stat])
    assert sum(same.values()) < 0.3 * sum(diff.values())
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
    bad = WebGraph(np.eye(3), [[0, 1]])
    gen = webs[:10] + webs[:5] + [bad]
    r = vun(gen, train=webs[5:10])
    assert r["n"] == 16 and r["valid"] == pytest.approx(15 / 16)
    assert r["unique"] == pytest.approx(10 / 15)
    assert r["novel"] == pytest.approx(10 / 15)  # webs[5:10] are in train
    assert r["vun"] == pytest.approx(5 / 16)
    assert r["failures"]["connected"] == 1
    assert vun(gen)["novel"] is None


def test_evaluate_report_json(samples):
    gen = samples["orb_a"][:20]
    for w in gen:
        w.meta["requested"] = {"num_nodes": w.n_nodes, "mean_edge_length": None}
    rep = evaluate(gen, samples["orb_b"][:20])
    json.dumps(rep)
    assert rep["fidelity"]["per_feature"]["num_nodes"]["r2"] == pytest.approx(1.0)
    assert "mean_edge_length" not in rep["fidelity"]["per_feature"]
    text = format_report(rep)
    assert "V.U.N." in text and "orbit" in text and "pooled R^2" in text
    with pytest.raises(InputError):
        evaluate([], gen)


@pytest.mark.parametrize("k", [0, -2, 2.5, True])
def test_vun_rejects_bad_degree_cap(k):
    with pytest.raises(InputError, match="K"):
        vun([grid_web(3, 3, 1)], K=k)
