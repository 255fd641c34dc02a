"""Tests of the structural statistics in araneus.features."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest

from araneus.errors import InputError
from araneus.features import (
    FEATURE_NAMES,
    clustering_coefficients,
    component_statistics,
    cycle_rank,
    degree_histogram,
    distribution_summary,
    edge_angles_to_vertical,
    heterogeneity_map,
    histogram,
    spatial_density,
    transitivity,
    web_statistics,
    web_summary,
)
from araneus.web import WebGraph


def random_web(n=60, p=0.08, seed=0) -> WebGraph:
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(n, p, seed=seed)
    pos = rng.uniform(0, 10, size=(n, 3))
    return WebGraph(pos, np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2))


def grid_web(k=5, spacing=1.0) -> WebGraph:
    g = nx.grid_graph(dim=[k, k, k])
    nodes = list(g.nodes)
    idx = {n: i for i, n in enumerate(nodes)}
    e = np.array([(idx[a], idx[b]) for a, b in g.edges()])
    return WebGraph(np.array(nodes, dtype=float) * spacing, e)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clustering_matches_networkx(seed):
    w = random_web(n=50, p=0.15, seed=seed)
    g = nx.Graph()
    g.add_nodes_from(range(w.n_nodes))
    g.add_edges_from(w.edges.tolist())
    ref = nx.clustering(g)
    assert np.allclose(clustering_coefficients(w), [ref[i] for i in range(w.n_nodes)])
    assert np.isclose(transitivity(w), nx.transitivity(g))


def test_clustering_small_cases():
    tri = WebGraph([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1], [1, 2], [0, 2]])
    assert np.allclose(clustering_coefficients(tri), 1.0) and transitivity(tri) == 1.0
    path = WebGraph([[0, 0, 0], [1, 0, 0], [2, 0, 0]], [[0, 1], [1, 2]])
    assert np.allclose(clustering_coefficients(path), 0.0) and transitivity(path) == 0.0
    assert grid_web(3).n_edges and transitivity(grid_web(3)) == 0.0  # grids have no triangles


def test_cycle_rank_and_components():
    w = grid_web(3)  # 27 nodes, 54 edges, one component
    assert cycle_rank(w) == 54 - 27 + 1
    two = WebGraph(
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5], [6, 5, 5], [9, 9, 9]],
        [[0, 1], [1, 2], [0, 2], [3, 4]],
    )
    assert cycle_rank(two) == 4 - 6 + 3 == 1
    cs = component_statistics(two)
    assert cs["components"] == 3 and cs["largest_component"] == 3
    assert cs["isolated_nodes"] == 1 and np.isclose(cs["largest_fraction"], 0.5)


def test_degree_histogram():
    w = grid_web(3)
    h = degree_histogram(w)
    assert h.sum() == 27 and np.dot(np.arange(len(h)), h) == 2 * w.n_edges
    assert h[3] == 8 and h[6] == 1  # corners and the centre


def test_orientation_angles():
    w = WebGraph(
        [[0, 0, 0], [0, 0, 2], [3, 0, 0], [1, 1, 1], [2, 1, 2]],
        [[0, 1], [0, 2], [3, 4]],
    )
    ang = edge_angles_to_vertical(w)
    assert np.allclose(ang, [0.0, 90.0, 45.0])
    # undirected: flipping an edge does not change its angle
    flipped = WebGraph(w.pos * np.array([1, 1, -1]), w.edges)
    assert np.allclose(edge_angles_to_vertical(flipped), ang)


def test_summary_and_histogram():
    s = distribution_summary(np.arange(11.0))
    assert s["median"] == 5 and s["min"] == 0 and s["max"] == 10 and np.isclose(s["p90"], 9)
    assert distribution_summary([])["mean"] == 0.0
    h = histogram(np.array([0.0, 0.5, 1.0]), bins=2)
    assert h["counts"] == [1, 2] and h["bin_edges"] == [0.0, 0.5, 1.0]
    with pytest.raises(InputError, match="bins"):
        histogram([1.0], bins=0)


def test_spatial_density_of_grid_and_flat_web():
    w = grid_web(5, spacing=2.0)  # box 8 x 8 x 8
    d = spatial_density(w)
    assert np.isclose(d["volume"], 512.0)
    assert np.isclose(d["length_density"], w.n_edges * 2.0 / 512.0)
    flat = WebGraph([[0, 0, 0], [1, 0, 0], [1, 1, 0]], [[0, 1], [1, 2]])
    df = spatial_density(flat)
    assert df["volume"] > 0 and np.isclose(df["extent_z"], 1.0)


def test_heterogeneity_uniform_vs_clustered():
    uni = heterogeneity_map(grid_web(9), voxels=2)
    assert uni["shape"] == [2, 2, 2]
    assert np.array(uni["node_count"]).sum() == 9**3
    assert uni["occupied_fraction"] == 1.0
    # a dense cluster in one corner plus one long sparse thread across the box
    g = grid_web(4, spacing=0.25)
    pos = np.concatenate([g.pos, [[0, 0, 0.01], [10, 10, 10]]])
    e = np.concatenate([g.edges, [[g.n_nodes, g.n_nodes + 1]]])
    het = heterogeneity_map(WebGraph(pos, e), voxels=2)
    assert het["length_density_cv"] > 2 * uni["length_density_cv"]
    assert het["occupied_fraction"] < 1.0
    md = np.array(uni["mean_degree"])
    assert md.shape == (2, 2, 2) and np.all(md > 0)


def test_heterogeneity_voxels_argument():
    w = grid_web(4)
    assert heterogeneity_map(w, voxels=(3, 2, 1))["shape"] == [3, 2, 1]
    for bad in (0, -1, (1, 2), 2.5, 1000):
        with pytest.raises(InputError, match="voxels"):
            heterogeneity_map(w, voxels=bad)


def test_web_statistics_json_and_consistent():
    w = random_web(seed=3)
    s = web_statistics(w, bins=10, voxels=3)
    again = json.loads(json.dumps(s))
    assert again == s
    assert set(s["features"]) == set(FEATURE_NAMES)
    assert sum(s["degree"]["histogram"]) == w.n_nodes
    assert sum(s["edge_length"]["histogram"]["counts"]) == w.n_edges
    assert sum(s["orientation"]["histogram"]["counts"]) == w.n_edges
    assert len(s["edge_length"]["histogram"]["counts"]) == 10
    assert s["cycle_rank"] == w.n_edges - w.n_nodes + w.n_components
    assert s["components"]["components"] == w.n_components
    assert 0 <= s["clustering"]["average"] <= 1


def test_web_statistics_without_edges():
    w = WebGraph([[0, 0, 0], [1, 1, 1]])
    s = web_statistics(w)
    assert s["degree"]["histogram"] == [2] and s["cycle_rank"] == 0
    assert s["edge_length"]["mean"] == 0.0


def test_bad_inputs():
    with pytest.raises(InputError, match="empty"):
        web_statistics(WebGraph(np.zeros((0, 3))))
    with pytest.raises(InputError, match="WebGraph"):
        web_statistics({"nodes": []})
    with pytest.raises(InputError, match="bins"):
        web_statistics(grid_web(2), bins=-3)


def test_statistics_vectorised_on_large_web():
    import time

    w = grid_web(22)  # ~10.6k nodes
    t = time.perf_counter()
    web_statistics(w)
    assert time.perf_counter() - t < 10.0  # generous: loaded CI machines


def test_analysis_figures_written(tmp_path):
    from araneus.report.figures import FIGURE_FILES, write_analysis_figures

    w = grid_web(3)
    paths = write_analysis_figures(w, tmp_path / "figs", title="grid")
    assert set(paths) == set(FIGURE_FILES)
    for p in paths.values():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 1000
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        write_analysis_figures(w, f)
    with pytest.raises(InputError, match="dpi"):
        write_analysis_figures(w, tmp_path / "x", dpi=0)


def _run_cli(argv):
    from araneus.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_cli_analyze(tmp_path, capsys):
    from araneus.io import write_web

    w = random_web(seed=4)
    src = tmp_path / "w.json"
    write_web(w, src)
    out = tmp_path / "an"
    assert _run_cli(["analyze", str(src), "--out", str(out), "--bins", "7"]) in (0, None)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["cycle_rank"] == cycle_rank(w)
    assert len(stats["edge_length"]["histogram"]["counts"]) == 7
    assert (out / "web_3d.png").exists() and (out / "degree_histogram.png").exists()
    assert "cycle rank" in capsys.readouterr().out
    # statistics only
    out2 = tmp_path / "an2"
    assert _run_cli(["analyze", str(src), "--out", str(out2), "--no-figures"]) in (0, None)
    assert sorted(p.name for p in out2.iterdir()) == ["stats.json"]


def test_cli_analyze_bad_input(tmp_path, capsys):
    from araneus.io import write_web

    src = tmp_path / "w.json"
    write_web(random_web(seed=1), src)
    assert _run_cli(["analyze", str(src), "--out", str(tmp_path / "a"), "--voxels", "0"]) == 2
    assert "voxels" in capsys.readouterr().err
    assert _run_cli(["analyze", str(src), "--out", str(src)]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert _run_cli(["analyze", str(tmp_path / "missing.json"), "--out", str(tmp_path)]) == 2


def test_web_summary_counts_and_empty():
    web = WebGraph(np.array([[0.0, 0, 0], [3, 0, 0], [3, 4, 0], [9, 9, 9]]), [[0, 1], [1, 2]])
    s = web_summary(web)
    assert (s["nodes"], s["edges"], s["components"], s["largest_component"]) == (4, 2, 2, 3)
    assert s["isolated_nodes"] == 1 and s["degree1_nodes"] == 2
    assert s["degree"]["histogram"] == {0: 1, 1: 2, 2: 1}
    assert s["edge_length"]["total"] == pytest.approx(7.0)
    assert s["bbox"]["size"] == [9.0, 9.0, 9.0]
    json.dumps(s)
    empty = web_summary(WebGraph(np.zeros((0, 3)), np.zeros((0, 2), dtype=np.int64)))
    assert empty["nodes"] == 0 and empty["degree"] is None and empty["edge_length"] is None


def test_cli_analyze_web_without_edges(tmp_path, capsys):
    from araneus.io import write_web

    src = tmp_path / "dots.json"
    write_web(WebGraph(np.eye(3), np.zeros((0, 2), dtype=np.int64)), src)
    assert _run_cli(["analyze", str(src), "--out", str(tmp_path / "a")]) in (0, None)
    assert (tmp_path / "a" / "web_3d.png").stat().st_size > 0


def test_absurd_bins_rejected():
    with pytest.raises(InputError, match="bins"):
        histogram(np.arange(3.0), bins=10**8)
