"""Tests of araneus.repair: scan-skeleton repair and simulated scan damage."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from araneus.errors import ConfigError, InputError
from araneus.repair import RepairConfig, repair, simulate_breaks
from araneus.repair.damage import parallel_threads, score_repair, thread_lattice
from araneus.web import WebGraph, thread_code


def restored_fraction(original: WebGraph, damaged: WebGraph, repaired: WebGraph) -> float:
    """Fraction of the original edges present in ``repaired`` (nodes matched by position)."""
    _, j = cKDTree(damaged.pos).query(repaired.pos)
    got = {tuple(e) for e in np.sort(j[repaired.edges], 1).tolist()}
    orig = {tuple(e) for e in original.edges.tolist()}
    return len(orig & got) / len(orig)


@pytest.fixture(scope="module")
def web():
    return thread_lattice()


def test_lattice_fixture_is_connected_thread_web(web):
    assert web.n_components == 1
    assert np.count_nonzero(web.degrees == 2) > web.n_nodes / 2


def test_repair_restores_fragmented_web(web):
    broken = simulate_breaks(web, 60, jitter=0.03, seed=3)
    assert broken.n_components > 5
    fixed, rep = repair(broken, keep="largest")
    assert fixed.n_components == 1
    frac = restored_fraction(web, broken, fixed)
    assert frac >= 0.95, frac
    score = score_repair(broken, fixed)  # every bridge restores a removed segment
    assert score["gaps_closed"] >= 0.9 and score["false_bridges"] == 0.0
    assert rep.bridges_added == score["bridges"] >= 0.9 * score["gaps"]
    assert rep.after["components"] == 1
    assert rep.before["components"] == broken.n_components
    assert rep.thread_ends == int(np.count_nonzero(broken.degrees == 1))
    # bridges are short: within the default 3 median edge lengths
    assert rep.bridge_length_max <= 3.0 * rep.scale + 1e-12


def test_repair_is_unit_free(web):
    broken = simulate_breaks(web, 60, jitter=0.03, seed=5)
    a, ra = repair(broken)
    b, rb = repair(broken.transform(scale=250.0))
    assert a.n_edges == b.n_edges and a.n_nodes == b.n_nodes
    assert rb.bridges_added == ra.bridges_added
    assert np.isclose(rb.scale, 250.0 * ra.scale)


def test_bridges_only_to_other_fragments_without_loop_hops(web):
    broken = simulate_breaks(web, 60, jitter=0.03, seed=3)
    fixed, rep = repair(broken, loop_hops=None, keep="all", min_component=1)
    br = fixed.edges[fixed.edge_attrs["bridge"] == 1]
    assert len(br) == rep.bridges_added > 0
    comp = broken.component_labels  # no merging happened, so node indices are unchanged
    assert rep.nodes_merged == 0 and fixed.n_nodes == broken.n_nodes
    assert np.all(comp[br[:, 0]] != comp[br[:, 1]])
    # loops allowed -> strictly more bridges restore breaks inside cyclic fragments
    _, rep2 = repair(broken, keep="all", min_component=1)
    assert rep2.bridges_added > rep.bridges_added


def test_one_bridge_per_thread_end(web):
    # Each thread end is the source of at most one bridge. It receives more only as the stub
    # of a junction that lost several edges (the threads that lost their attachment hit
    # it), and then never more than the edges it lost; every bridge here is a true one.
    # (Until issue 19 an end took part in at most one bridge, which left such junctions
    # open: use[ends].max() == 1.)
    broken = simulate_breaks(web, 80, jitter=0.03, seed=11)
    ends = np.flatnonzero(broken.degrees == 1)
    fixed, rep = repair(broken, keep="all", min_component=1)
    br = fixed.edges[fixed.edge_attrs["bridge"] == 1]
    use = np.bincount(br.ravel(), minlength=fixed.n_nodes)
    lost = web.degrees[broken.node_attrs["source_node"][ends]] - 1  # edges each end lost
    assert np.all(use[ends] <= np.maximum(lost, 1))
    assert np.all(use[ends][lost == 1] <= 1)  # an end of a plain thread: one bridge at most
    assert np.count_nonzero(use[ends] > 1) >= 1  # this damage leaves such a stub
    assert rep.bridges_added <= len(ends)
    score = score_repair(broken, fixed)
    assert score["false_bridges"] == 0.0 and score["gaps_closed"] == 1.0


def test_straight_continuation_preferred_over_nearer_side_node():
    # thread end 3 at x=0 pointing +x; the continuation starts 1.0 ahead (node 4), a side
    # thread passes nearer (node 9 at distance 0.9) but at 90 degrees
    # (threads of 4 nodes or more: pieces of up to 3 nodes count as debris when dangling)
    pos = [[-3, 0, 0], [-2, 0, 0], [-1, 0, 0], [0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]]
    pos += [[4, 0, 0], [-1, 0.9, 0], [0, 0.9, 0], [1, 0.9, 0], [2, 0.9, 0]]
    edges = [[0, 1], [1, 2], [2, 3], [4, 5], [5, 6], [6, 7], [8, 9], [9, 10], [10, 11]]
    w = WebGraph(pos, edges)
    for weight in (1.0, 0.0):  # even nearest-first never takes the side thread
        fixed, _ = repair(w, bridge_dist=1.5, merge_tol=0, min_component=1, angle_weight=weight)
        e = {tuple(x) for x in fixed.edges.tolist()}
        assert (3, 4) in e and (3, 9) not in e


def test_no_ladder_between_parallel_threads():
    # two parallel threads side by side: every gap is at 90 degrees to the thread ends
    pos = [[0, 0, 0], [1, 0, 0], [0, 0.8, 0], [1, 0.8, 0]]
    w = WebGraph(pos, [[0, 1], [2, 3]])
    for angle in (30.0, 60.0, 90.0):
        fixed, rep = repair(w, bridge_dist=1.0, min_component=1, max_angle=angle)
        assert rep.bridges_added == 0 and fixed.n_edges == 2
    with pytest.raises(ConfigError, match="max_angle"):
        repair(w, max_angle=120.0)  # a bridge may not turn back or run sideways


def test_broken_parallel_threads_are_mended_without_rungs():
    web = parallel_threads(n_threads=8, length=40.0, spacing=2.0, segment=1.0)
    broken = simulate_breaks(web, 30, dropouts=6, seed=4)
    fixed, _ = repair(broken, min_component=1)
    score = score_repair(broken, fixed)
    assert score["gaps"] >= 25
    assert score["gaps_closed"] >= 0.9 and score["false_bridges"] == 0.0
    src = fixed.node_attrs["source_node"]
    br = fixed.edges[fixed.edge_attrs["bridge"] == 1]
    row = web.pos[src[br], 1]  # y of both ends: a bridge never joins two threads
    assert np.all(np.abs(row[:, 0] - row[:, 1]) < 1e-9)


def test_distant_debris_stays_separate(web):
    lo, hi = web.bbox()
    far = np.array([[0, 0, 0], [0.3, 0, 0]]) + hi + 10.0
    w = WebGraph(
        np.concatenate([web.pos, far]),
        np.concatenate([web.edges, [[web.n_nodes, web.n_nodes + 1]]]),
    )
    fixed, rep = repair(w, keep="all", min_component=1)
    assert fixed.n_components == 2 and rep.bridges_added == 0
    largest, rep = repair(w, keep="largest")
    assert largest.n_nodes == web.n_nodes and rep.components_dropped == 1
    kept, rep = repair(w)  # default: every fragment of 10 nodes or more
    assert kept.n_nodes == web.n_nodes and rep.components_dropped == 1
    assert rep.nodes_dropped == 2 and rep.edges_dropped == 1


def test_merge_close_nodes_and_duplicates_counted():
    pos = [[0, 0, 0], [1, 0, 0], [1.001, 0, 0], [2, 0, 0], [1.0005, 0.0005, 0]]
    edges = [[0, 1], [0, 2], [2, 3], [1, 4]]
    w = WebGraph(pos, edges)
    fixed, rep = repair(w, merge_tol=0.01, bridge_dist=0, min_component=1)
    assert rep.nodes_merged == 2
    assert rep.edges_collapsed == 1  # 1-4 became a self-loop
    assert rep.duplicate_edges_dropped == 1  # 0-1 and 0-2 coincide
    assert fixed.n_nodes == 3 and fixed.n_edges == 2
    # merge_tol 0 still merges exactly coincident nodes (zero-length edges)
    z = WebGraph([[0, 0, 0], [0, 0, 0], [1, 0, 0]], [[0, 1], [1, 2]])
    fz, rz = repair(z, merge_tol=0, bridge_dist=0, min_component=1)
    assert rz.nodes_merged == 1 and rz.edges_collapsed == 1 and fz.n_edges == 1


def test_simplify_contracts_straight_chains_only():
    # straight chain 0-1-2-3 then a bent chain 3-4-5 (node 4 off-line by 0.5)
    pos = [
        [0, 0, 0],
        [1, 0, 0],
        [2, 0.01, 0],
        [3, 0, 0],
        [4, 0.5, 0],
        [5, 0, 0],
        [3, 1, 0],
        [3, -1, 0],
    ]
    edges = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [3, 6], [3, 7]]
    w = WebGraph(pos, edges, edge_attrs={"thread": np.full(7, thread_code("radial"), np.int8)})
    fixed, rep = repair(w, simplify=True, simplify_tol=0.1, bridge_dist=0, merge_tol=0, min_component=1)
    assert rep.chains_contracted == 1 and rep.nodes_simplified == 2
    assert fixed.n_nodes == 6 and fixed.n_edges == 5
    assert np.all(fixed.edge_attrs["thread"] == thread_code("radial"))
    # the straight chain became one edge of length 3
    assert np.isclose(fixed.edge_lengths.max(), 3.0)
    loose, rep2 = repair(w, simplify=True, simplify_tol=1.0, bridge_dist=0, merge_tol=0, min_component=1)
    assert rep2.chains_contracted == 2 and loose.n_nodes == 5
    # anchors are never simplified away
    anchored = w.replace(node_attrs={"anchor": np.arange(8) == 1})
    f3, rep3 = repair(anchored, simplify=True, simplify_tol=0.1, bridge_dist=0, merge_tol=0, min_component=1)
    assert rep3.chains_contracted == 1 and rep3.nodes_simplified == 1  # only node 2 goes
    assert f3.node_attrs["anchor"].sum() == 1
    assert np.allclose(f3.pos[f3.node_attrs["anchor"]], [[1, 0, 0]])


def test_simplify_keeps_topology_of_lattice(web):
    fixed, rep = repair(web, simplify=True)
    assert fixed.n_components == 1
    # every strut (chain of 3 segments) becomes one edge: the plain 4x4x4 lattice
    assert fixed.n_nodes == 64 and fixed.n_edges == 3 * 3 * 16
    assert rep.nodes_simplified == web.n_nodes - 64


def test_bridge_copies_thread_attribute_and_marks():
    pos = [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]]
    w = WebGraph(pos, [[0, 1], [2, 3]], edge_attrs={"thread": np.array([3, 3], np.int8)})
    fixed, rep = repair(w, bridge_dist=1.5, min_component=1)
    assert rep.bridges_added == 1 and fixed.n_edges == 3
    assert fixed.edge_attrs["thread"].tolist() == [3, 3, 3]
    assert fixed.edge_attrs["bridge"].tolist() == [0, 0, 1]
    assert fixed.edge_attrs["bridge"].dtype == np.int8
    # a second repair keeps the earlier marks and adds none
    again, rep2 = repair(fixed, bridge_dist=1.5, min_component=1)
    assert rep2.bridges_added == 0 and again.edge_attrs["bridge"].tolist() == [0, 0, 1]


def test_bridge_attribute_round_trips_through_json(tmp_path):
    from araneus.io import read_web, write_web

    web = parallel_threads(n_threads=3, length=10.0)
    fixed, rep = repair(simulate_breaks(web, 4, seed=1), min_component=1)
    assert rep.bridges_added > 0
    write_web(fixed, tmp_path / "r.json")
    back = read_web(tmp_path / "r.json")
    assert np.array_equal(back.edge_attrs["bridge"], fixed.edge_attrs["bridge"])
    assert back.edge_attrs["bridge"].dtype == np.int8


def test_keep_all_with_min_component(web):
    broken = simulate_breaks(web, 10, debris=5, seed=2)
    fixed, rep = repair(broken, bridge_dist=0, keep="all", min_component=3)
    assert fixed.component_sizes().min() >= 3
    assert rep.components_dropped >= 5  # the two-node debris pieces at least


def test_report_as_dict_is_json_and_complete(web):
    broken = simulate_breaks(web, 30, jitter=0.02, debris=3, seed=1)
    fixed, rep = repair(broken, simplify=True)
    d = json.loads(json.dumps(rep.as_dict()))
    for key in ("nodes_merged", "bridges_added", "chains_contracted", "components_dropped"):
        assert key in d
    assert d["before"]["nodes"] == broken.n_nodes and d["after"]["nodes"] == fixed.n_nodes
    assert "repair" in fixed.meta


def test_repair_is_deterministic(web):
    broken = simulate_breaks(web, 40, jitter=0.05, debris=4, seed=9)
    again = simulate_breaks(web, 40, jitter=0.05, debris=4, seed=9)
    assert broken.equals(again)
    a, _ = repair(broken)
    b, _ = repair(again)
    assert a.equals(b)


@pytest.mark.parametrize(
    "kw",
    [
        {"merge_tol": -1.0},
        {"bridge_dist": float("nan")},
        {"simplify_tol": -0.1, "simplify": True},
        {"max_angle": 100.0},
        {"hit_angle": -1.0},
        {"gap_factor": float("inf")},
        {"clearance": -0.5},
        {"angle_weight": -1.0},
        {"min_component": 0},
        {"min_component": 1.5},
        {"keep": "biggest"},
        {"loop_hops": 0},
    ],
)
def test_bad_parameters(web, kw):
    with pytest.raises(ConfigError, match=next(iter(kw))):
        repair(web, **kw)


def test_bad_webs():
    with pytest.raises(InputError, match="empty"):
        repair(WebGraph(np.zeros((0, 3))))
    with pytest.raises(InputError, match="positive length"):
        repair(WebGraph([[0, 0, 0], [1, 1, 1]]))
    with pytest.raises(InputError, match="WebGraph"):
        repair(np.zeros((3, 3)))


def test_simulate_breaks_bad_inputs(web):
    with pytest.raises(InputError, match="n_breaks"):
        simulate_breaks(web, web.n_edges + 1)
    with pytest.raises(InputError, match="jitter"):
        simulate_breaks(web, 1, jitter=-1)
    with pytest.raises(InputError, match="debris"):
        simulate_breaks(web, 1, debris=-2)


def test_config_from_overrides():
    from araneus._util import apply_overrides

    cfg = apply_overrides(RepairConfig(), ["bridge_dist=2.5", "relative=true", "loop_hops=none"])
    assert cfg.bridge_dist == 2.5 and cfg.relative and cfg.loop_hops is None
    with pytest.raises(ConfigError, match="valid"):
        apply_overrides(RepairConfig(), ["bridge=2"])


def test_relative_tolerances(web):
    broken = simulate_breaks(web, 30, jitter=0.02, seed=4)
    _, rep = repair(broken, bridge_dist=2.0, relative=True)
    assert np.isclose(rep.bridge_dist, 2.0 * rep.scale)


def _run_cli(argv):
    from araneus.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_cli_repair_writes_web_and_report(web, tmp_path, capsys):
    from araneus.io import read_web, write_web

    broken = simulate_breaks(web, 60, jitter=0.03, debris=2, seed=3)
    src = tmp_path / "scan.json"
    write_web(broken, src, "skeleton-json")
    out, rep = tmp_path / "fixed.json", tmp_path / "rep.json"
    code = _run_cli(["repair", str(src), str(out), "--report", str(rep), "--set", "keep=all"])
    assert code in (0, None)
    fixed = read_web(out)
    doc = json.loads(rep.read_text())
    assert doc["after"]["nodes"] == fixed.n_nodes and doc["bridges_added"] > 0
    expected, _ = repair(read_web(src), keep="all")
    assert fixed.equals(expected, atol=1e-9)
    assert "bridged" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--set", "bridge=2"], "unknown repair parameter"),
        (["--set", "merge_tol=-1"], "merge_tol"),
        (["--set", "keep=some"], "keep"),
        (["--set", "min_component=x"], "min_component"),
        (["--report", "."], "is a directory"),
    ],
)
def test_cli_repair_bad_settings(web, tmp_path, capsys, extra, needle):
    from araneus.io import write_web

    src = tmp_path / "w.json"
    write_web(web, src)
    out = tmp_path / "o.json"
    assert _run_cli(["repair", str(src), str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_repair_missing_and_malformed_input(tmp_path, capsys):
    assert _run_cli(["repair", str(tmp_path / "none.json"), str(tmp_path / "o.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"nodes": [[0, 0, 0]], "edges": [[0, 5]]}')
    assert _run_cli(["repair", str(bad), str(tmp_path / "o.json")]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_simulate_breaks_counts(web):
    b = simulate_breaks(web, 25, jitter=0.0, debris=4, noise_points=7, seed=0)
    assert b.n_nodes == web.n_nodes + 2 * 4 + 7
    assert b.n_edges == web.n_edges - 25 + 4
    assert len(b.meta["broken_edges"]) == 25
    assert np.allclose(b.pos[: web.n_nodes], web.pos)  # no jitter asked
    assert np.count_nonzero(b.degrees == 0) >= 7
    # removed edges are exactly those listed
    kept = {tuple(e) for e in b.edges[: web.n_edges - 25].tolist()}
    assert kept | {tuple(e) for e in b.meta["broken_edges"]} == {
        tuple(e) for e in web.edges.tolist()
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_matching_equals_sequential_greedy(seed):
    from araneus.repair._matching import greedy_matching

    rng = np.random.default_rng(seed)
    k, n_res = 400, 60
    res_a = rng.integers(0, n_res, k)
    res_b = np.where(rng.random(k) < 0.5, rng.integers(0, n_res, k), -1)
    res_b[res_b == res_a] = -1
    score = rng.random(k)
    got = greedy_matching(res_a, res_b, score, n_res)
    used, ref = set(), np.zeros(k, dtype=bool)
    for i in np.argsort(score, kind="stable"):
        need = {res_a[i]} | ({res_b[i]} if res_b[i] >= 0 else set())
        if not need & used:
            used |= need
            ref[i] = True
    assert np.array_equal(got, ref)


def test_hops_exceed_matches_shortest_paths():
    import networkx as nx

    from araneus.repair._matching import hops_exceed

    w = thread_lattice((3, 3, 2), sub=2)
    g = nx.Graph(w.edges.tolist())
    rng = np.random.default_rng(0)
    src = rng.integers(0, w.n_nodes, 200)
    dst = rng.integers(0, w.n_nodes, 200)
    dist = dict(nx.all_pairs_shortest_path_length(g))
    for hops in (1, 3, 6):
        ref = np.array([dist[s][t] > hops for s, t in zip(src, dst)])
        assert np.array_equal(hops_exceed(w, src, dst, hops), ref)


def test_repair_does_not_touch_its_input(web):
    before_meta = dict(web.meta)
    fixed, rep = repair(web)  # an intact web: nothing to do
    assert web.meta == before_meta and "repair" in fixed.meta
    assert rep.bridges_added == 0 and fixed.equals(web)
    with pytest.raises(ConfigError, match="loop_hops"):
        repair(web, loop_hops=1000)


def test_thread_lattice_shape_and_bad_arguments():
    w = thread_lattice((3, 2, 1), sub=2, spacing=2.0)
    n_struts = 2 * 2 + 3 * 1  # x-struts + y-struts (flat in z)
    assert w.n_nodes == 6 + n_struts and w.n_edges == 2 * n_struts and w.n_components == 1
    assert np.allclose(w.edge_lengths, 1.0)
    for kwargs in ({"n": 0}, {"n": (2, 2)}, {"n": 2.5}, {"sub": 0}, {"spacing": float("nan")}):
        with pytest.raises(InputError):
            thread_lattice(**kwargs)


# ---------------------------------------------------------------- scan-like webs (issue 19)
def _scan_damage(web, seed):
    """Scan-like damage: 2% of segments broken, 0.5% drop-outs of 2-3 segments, debris."""
    k = web.n_edges
    return simulate_breaks(web, int(0.02 * k), dropouts=int(0.005 * k), debris=int(0.005 * k),
                           noise_points=int(0.005 * k), seed=seed)  # fmt: skip


def _mean_scores(web, seeds=(0, 1, 2)):
    rows = []
    for seed in seeds:
        broken = _scan_damage(web, seed)
        fixed, _ = repair(broken)
        rows.append(score_repair(broken, fixed))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def test_repair_targets_on_a_scan_like_orb():
    from araneus.builders import OrbConfig, build

    s = _mean_scores(build("orb", OrbConfig(resolution="auto"), seed=0))
    assert s["gaps"] > 50
    assert s["gaps_closed"] >= 0.90, s
    assert s["false_bridges"] <= 0.02, s
    assert s["nodes_kept"] >= 0.95, s
    assert s["within_angle"] >= 0.90, s


def test_repair_targets_on_a_scan_like_tent():
    from araneus.builders import TentConfig, build

    cfg = TentConfig(sheet_radius=50.0, barrier_above=150, barrier_below=100, rim_threads=30,
                     lines_above=30, lines_below=12, resolution="auto")  # fmt: skip
    s = _mean_scores(build("tent", cfg, seed=0))
    assert s["gaps"] > 500
    # issue-19 targets (measured 91.1 % closed, 1.3 % false, 0.9 % of them near misses)
    assert s["gaps_closed"] >= 0.90 and s["false_bridges"] <= 0.02, s
    assert s["nodes_kept"] >= 0.95 and s["within_angle"] >= 0.90, s
    assert s["false_bridges"] - s["false_near"] <= 0.01, s  # away from the true partner


def test_repair_targets_on_a_scan_like_tangle():
    from araneus.builders import TangleConfig, build

    web = build("tangle", TangleConfig(resolution="auto"), seed=0)
    s = _mean_scores(web)
    assert s["gaps"] > 300
    # issue-19 targets; measured 92.0 % closed, 1.3 % false. The auto resolution follows
    # the thread spacing (segments <= 2x its 5 % quantile), so 94 % of the gaps have no
    # other thread within a quarter segment (74 % at half the median thread length, where
    # only 74 % of the gaps were closed, 4.9 % of the bridges false).
    assert s["gaps_closed"] >= 0.90 and s["false_bridges"] <= 0.02, s
    assert s["nodes_kept"] >= 0.95 and s["within_angle"] >= 0.90, s
    assert s["clean_gaps"] >= 0.9 and s["clean_closed"] >= 0.93, s


class _Sketch:
    """A small hand-made web: nodes and polyline threads."""

    def __init__(self):
        self.pos, self.edges = [], []

    def node(self, p):
        self.pos.append([float(x) for x in p])
        return len(self.pos) - 1

    def thread(self, points, start=None):
        ids = ([start] if start is not None else []) + [self.node(p) for p in points]
        self.edges += list(zip(ids[:-1], ids[1:]))
        return ids

    def bridges(self, **kw):
        w = WebGraph(np.array(self.pos), np.array(self.edges))
        fixed, _ = repair(w, min_component=1, merge_tol=0, **kw)
        return {tuple(sorted(e)) for e in fixed.edges[fixed.edge_attrs["bridge"] == 1].tolist()}


def test_junction_that_lost_its_through_thread_gets_both_sides_back():
    # the through-thread along x lost both edges at junction J; J keeps its stem along y
    # and is a thread end crossed at 90 degrees: both sides hit it
    k = _Sketch()
    left = k.thread([[-5 + i, 0, 0] for i in range(5)])
    j = k.node([0, 0, 0])
    k.thread([[0, 1 + i, 0] for i in range(4)], start=j)
    right = k.thread([[1 + i, 0, 0] for i in range(5)])
    assert k.bridges() == {(left[-1], j), (j, right[0])}


def test_junction_that_lost_two_edges_is_mended_in_two_rounds():
    # J lost the edge to the left thread and its stem: the left end faces J (round 1), the
    # stem hits the mended thread at J (round 2)
    k = _Sketch()
    left = k.thread([[-5 + i, 0, 0] for i in range(5)])
    j = k.node([0, 0, 0])
    k.thread([[1 + i, 0, 0] for i in range(5)], start=j)
    stem = k.thread([[0, 1 + i, 0] for i in range(5)])
    assert k.bridges() == {(left[-1], j), (j, stem[0])}


def test_end_aimed_between_two_close_nodes_stays_open():
    # a thread end aimed at a crossing thread whose nodes lie 0.4 apart: aimed at one node
    # it is bridged there; aimed exactly between two it is left open (either would be a
    # guess, and a false bridge costs more than an open gap)
    for aim, want in ((0.2, 1), (0.0, 0)):
        k = _Sketch()
        end = k.thread([[-2.4 + 0.4 * i, aim, 0] for i in range(6)])[-1]
        cross = k.thread([[0.0, -2.2 + 0.4 * i, 0] for i in range(12)])
        got = k.bridges()
        assert len(got) == want
        if want:
            assert got == {(end, cross[6])}  # the node at y = 0.2


def test_facing_ends_may_cross_a_thread_that_passes_them():
    # a thread passes the gap 0.1 above it (3-D webs cross without junctions) with no node
    # near the line: the two facing ends are joined across it; with a node of that thread
    # on the line (a junction that lost both sides) both ends are joined to the node
    for z, node_on_line in ((0.1, False), (0.0, True)):
        k = _Sketch()
        left = k.thread([[-5 + i, 0, 0] for i in range(5)])
        right = k.thread([[1 + i, 0, 0] for i in range(5)])
        ys = [-3 + i for i in range(7)] if node_on_line else [-3.5 + i for i in range(8)]
        cross = k.thread([[0.0, y, z] for y in ys])
        want = {(left[-1], right[0])}
        if node_on_line:
            mid = cross[3]
            want = {(min(left[-1], mid), max(left[-1], mid)), (min(mid, right[0]), max(mid, right[0]))}
        assert k.bridges() == want


def test_end_whose_best_bridge_a_passing_thread_hides_stays_open(monkeypatch):
    # the end's thread continues at X (1.2 along its line); a weaker T-hit onto a thread
    # at Y (0.3 off the line) is also admissible. With nothing in the way the end continues
    # at X; with a thread passing 0.05 from the gap (no node near it) the continuation is
    # refused, and the end stays open instead of settling for Y
    import araneus.repair._bridge as bridge

    def sketch(cross):
        k = _Sketch()
        end = k.thread([[-5 + i, 0, 0] for i in range(6)])[-1]
        x = k.node([1.2, 0, 0])
        k.thread([[2.2 + i, 0, 0] for i in range(4)], start=x)
        k.thread([[1.2, -1 - i, 0] for i in range(4)], start=x)
        y = k.thread([[1.0, 0.3, z] for z in range(-3, 4)])[3]
        if cross:
            k.thread([[1.12, 0.05, z + 0.5] for z in range(-4, 4)])
        return k, end, x, y

    k, end, x, _ = sketch(cross=False)
    assert k.bridges() == {(end, x)}
    k, end, _, y = sketch(cross=True)
    assert k.bridges() == set()
    monkeypatch.setattr(bridge, "BLOCKED_MARGIN", np.inf)  # without the rule: the guess
    assert k.bridges() == {(end, y)}


def test_t_hit_wider_tolerance_only_in_open_surroundings():
    # an end aimed 0.45 beside a node of a thread it meets at 1.5 (18 degrees off its
    # line: beyond the plain T-hit tolerance 0.2 + 0.15 s, within the open one 0.25 + 0.2 s)
    # is joined while no other thread passes within a segment of the bridge; 0.3 beside
    # the node, within the plain tolerance, it is joined either way
    for off, third, joined in ((0.45, False, True), (0.45, True, False), (0.3, True, True)):
        k = _Sketch()
        end = k.thread([[-5 + i, 0, 0] for i in range(6)])[-1]
        host = k.thread([[1.5, off + y, 0] for y in (-2.4, -1.4, 0, 1, 2, 3)])
        if third:  # passes 0.6 from the bridge
            k.thread([[0.75, 0.8, z] for z in range(-2, 3)])
        assert k.bridges() == ({(end, host[2])} if joined else set())


def test_own_scale_and_tangent_over_own_segments():
    from araneus.repair._bridge import local_scale, own_scale, thread_tangents

    # a coarse thread (segments of 2, jittered 0.3 sideways) ends in a fine mesh (0.5)
    k = _Sketch()
    coarse = k.thread([[-2.0 * i, 0.3 * (i % 2), 0] for i in range(5)])
    for row in range(-3, 4):
        k.thread([[0.5 * i - 1, 0.5 * row + 0.1, 0.2] for i in range(6)])
    corner = k.thread([[0, 10, 0], [-2, 10, 0], [-4, 10, 0], [-4, 12, 0], [-4, 14, 0]])
    w = WebGraph(np.array(k.pos), np.array(k.edges))
    ends = np.array([coarse[0], corner[0]])
    own = own_scale(w, ends)
    assert np.allclose(own, 2.0, rtol=0.03)  # the corner's legs are not its own thread
    local = local_scale(w, ends[:1])
    assert local[0] < 1.0  # the mesh around the coarse thread's end
    u0, cov0 = thread_tangents(w, ends[:1], local)
    u1, cov1 = thread_tangents(w, ends[:1], local, reach=own[:1])
    assert cov0[0] < 2.5 and cov1[0] > 3.5  # one segment, or two of the thread's own
    assert u1[0, 0] > u0[0, 0] > 0.9  # the chord over two segments evens out the jitter
    assert np.degrees(np.arccos(u1[0, 0])) < 1.0


def test_short_piece_in_line_is_kept_debris_across_is_not():
    # a one-segment piece of thread lying in line ahead of a thread end (a facing pair) is
    # joined; a piece lying across the line (debris the end points at) is not
    k = _Sketch()
    end = k.thread([[-6 + i, 0, 0] for i in range(6)])[-1]
    piece = k.thread([[0.1, 0.05, 0], [1.1, 0.05, 0]])
    assert k.bridges() == {(end, piece[0])}
    k = _Sketch()
    k.thread([[-6 + i, 0, 0] for i in range(6)])
    k.thread([[0.1, -0.5, 0], [0.1, 0.5, 0]])
    assert k.bridges() == set()


def test_score_counts_false_bridges_and_near_misses():
    # mend every gap of a damaged web, then move one bridge one segment beyond its partner
    web = parallel_threads(n_threads=4, length=20.0)
    broken = simulate_breaks(web, 6, seed=1)
    gaps = np.asarray(broken.meta["gaps"])
    src = broken.node_attrs["source_node"]
    where = {int(v): i for i, v in enumerate(src)}
    a, b = gaps[0]
    beyond = [int(x) for x in web.adjacency[src[b]].indices if x != src[a] and int(x) in where]
    wrong = gaps.copy()
    wrong[0, 1] = where[beyond[0]]  # false, but one intact segment beside the true partner
    e = np.concatenate([broken.edges, wrong])
    mark = np.r_[np.zeros(broken.n_edges, np.int8), np.ones(len(wrong), np.int8)]
    s = score_repair(broken, WebGraph(broken.pos, e, broken.node_attrs, {"bridge": mark}))
    n = len(gaps)
    assert s["bridges"] == n and n >= 5
    assert np.isclose(s["false_bridges"], 1 / n) and np.isclose(s["false_near"], 1 / n)
    assert np.isclose(s["gaps_closed"], (n - 1) / n)


def test_gap_classes_clean_crowded_doubling():
    from araneus.repair.damage import CLEAN, CROWDED, DOUBLING, gap_classes

    def gap_web(extra):
        k = _Sketch()
        end = k.thread([[-5 + i, 0, 0] for i in range(6)])[-1]
        part = k.thread([[1 + i, 0, 0] for i in range(5)])[0]
        extra(k, part)
        return WebGraph(np.array(k.pos), np.array(k.edges), meta={"gaps": [[end, part]]})

    def crossing(k, part):  # passes 0.1 above the middle of the gap
        k.thread([[0.5, y - 3, 0.1] for y in range(7)])

    def back(k, part):  # a thread leaves the partner back along the gap
        k.thread([[0.3 - 0.8 * i, 0.15 + 0.15 * i, 0] for i in range(5)], start=part)

    assert gap_classes(gap_web(lambda k, p: None)).tolist() == [CLEAN]
    assert gap_classes(gap_web(crossing)).tolist() == [CROWDED]
    assert gap_classes(gap_web(back)).tolist() == [DOUBLING]


def test_damage_records_gaps_and_source_nodes():
    web = parallel_threads(n_threads=4, length=20.0)
    broken = simulate_breaks(web, 5, dropouts=3, max_run=3, seed=2)
    src = broken.node_attrs["source_node"]
    kept = src[src >= 0]
    assert np.allclose(broken.pos[src >= 0], web.pos[kept])
    lost = web.n_nodes - len(kept)
    assert 3 <= lost <= 6  # interior nodes of three runs of 2-3 segments
    assert len(broken.meta["broken_edges"]) == 5 + lost + 3
    gaps = np.asarray(broken.meta["gaps"])
    assert len(gaps) >= 6 and np.all(src[gaps] >= 0)
    assert np.all((broken.degrees[gaps] == 1).any(axis=1))  # each gap is visible as a thread end
    # the intact web joins both ends of every gap along one thread (same y)
    assert np.allclose(web.pos[src[gaps[:, 0]], 1], web.pos[src[gaps[:, 1]], 1])
    perfect = broken.edge_subgraph(np.ones(broken.n_edges, bool))
    e = np.concatenate([perfect.edges, gaps])
    bridge = np.r_[np.zeros(perfect.n_edges, np.int8), np.ones(len(gaps), np.int8)]
    mended = WebGraph(perfect.pos, e, perfect.node_attrs, {"bridge": bridge})
    s = score_repair(broken, mended)
    assert s["gaps_closed"] == 1.0 and s["false_bridges"] == 0.0 and s["nodes_kept"] == 1.0
    with pytest.raises(InputError, match="max_run"):
        simulate_breaks(web, 1, dropouts=1, max_run=1)
    with pytest.raises(InputError, match="source_node"):
        score_repair(web, mended)


def test_dataset_samples_each_from_one_piece_of_a_repaired_scan():
    from araneus.builders import OrbConfig, build
    from araneus.dataset import build_dataset

    web = build("orb", OrbConfig(resolution="auto"), seed=1)
    broken = simulate_breaks(web, web.n_edges // 3, seed=0)  # falls apart
    pieces, _ = repair(broken, bridge_dist=0)  # no bridging: every piece of 10+ nodes kept
    assert pieces.n_components > 5
    ds = build_dataset(pieces, 200, n_min=8, n_max=32, seed=0)
    assert len(ds) == 200
    webs = ds.to_webs()
    assert all(w.n_components == 1 and w.n_nodes >= 8 for w in webs)
