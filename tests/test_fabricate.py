"""Tests of araneus.fabrication: watertight meshes, volumes, diameters, checks, exporters, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import trimesh

from araneus.errors import InputError
from araneus.fabrication import build_mesh, export_mesh, get_process
from araneus.fabrication.checks import node_angles, segment_distances
from araneus.web import WebGraph, thread_code


def _strut_volume(r: float, R: float, length: float) -> float:
    """Analytic volume of a tube (radius r, length L between centres) + two end spheres R."""
    cap = 2.0 * math.pi / 3.0 * (R**3 - (R**2 - r**2) ** 1.5)  # tube part inside one sphere
    return 2 * 4 / 3 * math.pi * R**3 + math.pi * r**2 * length - 2 * cap


def _star() -> WebGraph:
    pos = np.array([[0, 0, 0], [6, 0, 0], [0, 7, 0], [0, 0, 8], [-5, -5, -5.0]])
    return WebGraph(pos, np.array([[0, 1], [0, 2], [0, 3], [0, 4]]))


def test_single_strut_volume_matches_analytic():
    web = WebGraph(np.array([[0, 0, 0], [10, 0, 0.0]]), np.array([[0, 1]]))
    res = build_mesh(web, strut=0.8, node=1.2, segments=64, joint="sphere")
    assert res.report.watertight and res.report.bodies == 1
    expected = _strut_volume(0.4, 0.6, 10.0)
    assert res.mesh.volume == pytest.approx(expected, rel=0.01)
    assert res.report.volume_mm3 == pytest.approx(res.mesh.volume)
    assert res.report.size_mm[0] == pytest.approx(11.2, rel=1e-3)


def test_star_volume_matches_analytic():
    web = _star()
    r, rc, rl = 0.5, 0.9, 0.7  # strut radius, centre sphere, leaf spheres
    res = build_mesh(web, strut=1.0, node=1.4, segments=64, joint="sphere")
    # node diameter 1.4 everywhere: centre and leaves use R = 0.7
    rc = rl
    assert res.mesh.is_watertight and res.report.bodies == 1
    lengths = web.edge_lengths
    cap = 2.0 * math.pi / 3.0 * (rc**3 - (rc**2 - r**2) ** 1.5)
    tubes = sum(math.pi * r**2 * length - 2 * cap for length in lengths)
    expected = 5 * 4 / 3 * math.pi * rc**3 + tubes  # tubes do not meet outside the centre
    assert res.mesh.volume == pytest.approx(expected, rel=0.015)


def test_scale_multiplies_positions_not_diameters():
    web = WebGraph(np.array([[0, 0, 0], [1, 0, 0.0]]), np.array([[0, 1]]))
    res = build_mesh(web, strut=0.8, node=1.2, scale=10.0, segments=48, joint="sphere")
    assert res.mesh.volume == pytest.approx(_strut_volume(0.4, 0.6, 10.0), rel=0.015)


def _lattice(n: int, seed: int = 0) -> WebGraph:
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    idx = np.arange(n**3).reshape(n, n, n)
    edges = np.concatenate(
        [
            np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1),
            np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1),
            np.stack([idx[:, :, :-1].ravel(), idx[:, :, 1:].ravel()], 1),
        ]
    )
    return WebGraph(grid * 5.0 + rng.normal(0, 0.5, grid.shape), edges)


@pytest.mark.parametrize("segments", [8, 12])
def test_hull_joints_lattice_watertight_and_close_to_spheres(segments):
    web = _lattice(3)
    hull = build_mesh(web, strut=0.8, node=1.2, segments=segments, joint="hull")
    sph = build_mesh(web, strut=0.8, node=1.2, segments=segments, joint="sphere")
    for res in (hull, sph):
        assert res.mesh.is_watertight and res.report.bodies == 1
        assert res.report.volume_mm3 > 0
    assert hull.report.boolean_nodes == 0 and hull.report.boolean_struts == 0
    # smooth joints add a little fillet volume around each node, nothing else
    assert sph.mesh.volume < hull.mesh.volume < 1.15 * sph.mesh.volume
    assert hull.report.joint == "hull" and sph.report.boolean_struts == web.n_edges


def test_hull_single_strut_bounds():
    web = WebGraph(np.array([[0, 0, 0], [10, 0, 0.0]]), np.array([[0, 1]]))
    res = build_mesh(web, strut=0.8, node=1.2, segments=48, joint="hull")
    assert res.mesh.is_watertight and res.report.bodies == 1
    exact = _strut_volume(0.4, 0.6, 10.0)
    assert exact < res.mesh.volume < 1.1 * exact
    np.testing.assert_allclose(res.mesh.bounds[:, 0], [-0.6, 10.6], atol=1e-3)


def test_hull_falls_back_to_booleans_where_needed():
    # an acute pair at node 0 and a strut crossing another without a joint
    pos = np.array(
        [[0, 0, 0], [10, 0, 0], [10, 1, 0], [0, 10, 0], [5, -5, 0.2], [5, 5, 0.2]], dtype=float
    )
    edges = np.array([[0, 1], [0, 2], [0, 3], [4, 5], [3, 5]])
    res = build_mesh(WebGraph(pos, edges), strut=0.8, segments=10, joint="hull")
    assert res.mesh.is_watertight and res.report.bodies == 1
    assert res.report.boolean_nodes >= 1 and res.report.boolean_struts >= 2
    ref = build_mesh(WebGraph(pos, edges), strut=0.8, segments=10, joint="sphere")
    assert ref.mesh.volume <= res.mesh.volume < 1.15 * ref.mesh.volume


def test_diameters_by_thread_type_and_attribute():
    pos = np.array([[0, 0, 0], [10, 0, 0], [10, 10, 0.0]])
    codes = np.array([thread_code("radial"), thread_code("spiral")], dtype=np.int8)
    web = WebGraph(
        pos,
        np.array([[0, 1], [1, 2]]),
        edge_attrs={"thread": codes, "diameter": np.array([0.1, 0.05])},
    )
    res = build_mesh(web, strut={"radial": 1.0, "spiral": 0.5}, segments=8)
    np.testing.assert_allclose(res.strut_diameters, [1.0, 0.5])
    np.testing.assert_allclose(res.node_diameters, [1.25, 1.25, 0.625])
    res = build_mesh(web, strut="diameter", scale=10.0, segments=8)
    np.testing.assert_allclose(res.strut_diameters, [1.0, 0.5])
    res = build_mesh(web, strut={"default": 2.0}, segments=8)
    np.testing.assert_allclose(res.strut_diameters, [2.0, 2.0])
    with pytest.raises(InputError, match="spiral"):
        build_mesh(web, strut={"radial": 1.0})
    with pytest.raises(InputError, match="unknown thread type"):
        build_mesh(web, strut={"silk": 1.0})
    with pytest.raises(InputError, match="no edge attribute 'width'"):
        build_mesh(web, strut="width")


def test_node_diameter_never_below_local_strut():
    res = build_mesh(_star(), strut=1.0, node=0.5, segments=8)
    assert np.all(res.node_diameters >= 1.0)
    assert res.report.nodes_enlarged == 5
    assert res.report.watertight


def test_clean_web_has_no_warnings_and_base_plate_joins():
    web = _star()
    res = build_mesh(web, strut=1.0, node=1.5, segments=12, base_plate=True)
    assert res.report.ok, res.report.warnings
    assert res.report.bodies == 1 and res.report.base_plate
    plate_only = (res.mesh.extents[0] + 0) * (res.mesh.extents[1]) * 2.0
    no_plate = build_mesh(web, strut=1.0, node=1.5, segments=12)
    assert res.mesh.volume > no_plate.mesh.volume + 0.5 * plate_only
    assert res.mesh.bounds[0, 2] < web.pos[:, 2].min() - 1.5  # slab below the lowest node


def test_printability_warnings_fire():
    pos = np.array(
        [[0, 0, 0], [10, 0, 0], [0, 1.5, 0], [0, 0, -0.3], [20, 0, 0], [30, 0, 0]]
        + [[25, -5, 0.3], [25, 5, 0.3]],
        dtype=float,
    )
    edges = np.array([[0, 1], [1, 2], [0, 3], [4, 5], [1, 6], [6, 7]])
    # at node 1, struts to 0 and 2 are 8.53 degrees apart; (0,3) is 0.3 mm long; (4,5) is a
    # second web component that (6,7) passes 0.3 mm above without a joint.
    web = WebGraph(pos, edges)
    res = build_mesh(web, strut=0.5, process="fdm", segments=8)
    r = res.report
    assert r.thin_struts == 6
    assert r.tiny_edges == 1
    assert r.sharp_angles == 1 and r.min_angle_deg == pytest.approx(8.53, abs=0.01)
    assert r.crossing_struts == 1
    assert r.bodies == 1  # the crossing strut fuses the second component
    assert r.graph_components == 2
    text = " ".join(r.warnings)
    for word in ("thinner", "shorter", "degrees", "pass through"):
        assert word in text
    resin = build_mesh(web, strut=0.5, process="resin", segments=8).report
    assert resin.thin_struts == 0


def test_gap_and_bodies_warnings():
    pos = np.array([[0, 0, 0], [10, 0, 0], [0, 1.1, 0], [10, 1.1, 0.0], [0, 0, 9], [1, 0, 9.0]])
    web = WebGraph(pos, np.array([[0, 1], [2, 3], [4, 5]]))
    r = build_mesh(web, strut=0.8, node=0.8, segments=8).report
    assert r.narrow_gaps == 1 and r.min_gap_mm == pytest.approx(0.3, abs=1e-9)
    assert r.bodies == 3
    assert any("3 separate bodies" in w for w in r.warnings)
    assert any("narrower" in w for w in r.warnings)


def test_isolated_nodes_skipped():
    web = WebGraph(np.array([[0, 0, 0], [5, 0, 0], [50, 50, 50.0]]), np.array([[0, 1]]))
    r = build_mesh(web, strut=1.0, segments=8).report
    assert r.isolated_nodes_skipped == 1 and r.bodies == 1 and r.n_nodes == 2


@pytest.mark.parametrize("suffix", [".stl", ".3mf", ".obj"])
def test_exporters_reload(tmp_path, suffix):
    res = build_mesh(_star(), strut=1.0, segments=10)
    out = export_mesh(res.mesh, tmp_path / f"web{suffix}")
    back = trimesh.load(out, force="mesh")
    assert back.is_watertight
    assert back.volume == pytest.approx(res.mesh.volume, rel=1e-5)
    assert len(back.faces) == len(res.mesh.faces)
    if suffix == ".stl":
        assert out.read_bytes()[:5] != b"solid"  # binary STL
        assert out.stat().st_size == 84 + 50 * len(res.mesh.faces)


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    res = build_mesh(_star(), strut=1.0, segments=8)

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(trimesh.Trimesh, "export", boom)
    with pytest.raises(RuntimeError):
        export_mesh(res.mesh, tmp_path / "web.stl")
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs():
    web = _star()
    with pytest.raises(InputError, match="no edges"):
        build_mesh(WebGraph(np.zeros((3, 3)), np.zeros((0, 2), dtype=np.int64)))
    with pytest.raises(InputError, match="strut diameter"):
        build_mesh(web, strut=0.0)
    with pytest.raises(InputError, match="strut diameter"):
        build_mesh(web, strut=-1.0)
    with pytest.raises(InputError, match="strut diameter"):
        build_mesh(web, strut=float("nan"))
    with pytest.raises(InputError, match="node diameter"):
        build_mesh(web, node=float("nan"))
    with pytest.raises(InputError, match="node diameter"):
        build_mesh(web, node=-2)
    with pytest.raises(InputError, match="unknown process 'sls'"):
        build_mesh(web, process="sls")
    with pytest.raises(InputError, match="scale"):
        build_mesh(web, scale=0)
    with pytest.raises(InputError, match="scale"):
        build_mesh(web, scale=float("inf"))
    with pytest.raises(InputError, match="segments"):
        build_mesh(web, segments=2)
    with pytest.raises(InputError, match="unknown joint 'cube'"):
        build_mesh(web, joint="cube")
    with pytest.raises(InputError, match="plate_thickness"):
        build_mesh(web, base_plate=True, plate_thickness=0)
    with pytest.raises(InputError, match="web must be a WebGraph"):
        build_mesh(np.zeros((3, 3)))
    res = build_mesh(web, segments=6)
    with pytest.raises(InputError, match="unknown mesh suffix '.ply'"):
        export_mesh(res.mesh, "web.ply")
    with pytest.raises(InputError, match="unknown mesh format"):
        export_mesh(res.mesh, "web.stl", file_type="step")
    assert get_process("RESIN").min_strut_mm == 0.3


def test_node_angles_and_segment_distances():
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0.0]])
    ang, node = node_angles(pos, np.array([[0, 1], [0, 2], [0, 3]]))
    np.testing.assert_allclose(np.sort(ang), [90, 90, 180])
    assert np.all(node == 0)
    p0 = np.array([[0, 0, 0], [0, 0, 0.0]])
    p1 = np.array([[1, 0, 0], [1, 0, 0.0]])
    q0 = np.array([[0.5, -1, 2], [3, 0, 0.0]])
    q1 = np.array([[0.5, 1, 2], [4, 0, 0.0]])
    d, _, _ = segment_distances(p0, p1, q0, q1)
    np.testing.assert_allclose(d, [2.0, 2.0])


def test_same_input_same_mesh():
    a = build_mesh(_star(), strut=1.0, segments=8).mesh
    b = build_mesh(_star(), strut=1.0, segments=8).mesh
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.faces, b.faces)


def _cli(args: list[str]) -> int:
    from araneus.cli import main

    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_mesh(tmp_path, capsys):
    from araneus.io import write_web

    src = tmp_path / "web.json"
    write_web(_star(), src)
    out, rep = tmp_path / "web.stl", tmp_path / "r.json"
    args = ["mesh", str(src), "--strut", "1.0", "--node", "1.5", "--out", str(out)]
    assert _cli(args + ["--report", str(rep), "--base-plate"]) == 0
    report = json.loads(rep.read_text())
    assert report["watertight"] and report["bodies"] == 1 and report["base_plate"]
    assert trimesh.load(out, force="mesh").is_watertight
    assert "watertight True" in capsys.readouterr().out
    bad = tmp_path / "x.stl"
    assert _cli(["mesh", str(src), "--process", "sla", "--out", str(bad)]) == 2
    assert "unknown process 'sla'" in capsys.readouterr().err
    assert _cli(["mesh", str(src), "--strut", "radial=abc", "--out", str(bad)]) == 2
    assert "--strut" in capsys.readouterr().err
    assert _cli(["mesh", str(src), "--out", str(tmp_path / "x.step")]) == 2
    assert "unknown mesh suffix" in capsys.readouterr().err
    assert _cli(["mesh", str(tmp_path / "missing.json"), "--out", str(bad)]) == 2
    assert not bad.exists()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_webs_hull_is_watertight_superset_of_spheres(seed):
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 30, (40, 3))
    _, nbr = cKDTree(pos).query(pos, k=4)
    edges = np.stack([np.repeat(np.arange(40), 3), nbr[:, 1:].ravel()], 1)
    web, _ = WebGraph.from_raw(pos, edges)
    hull = build_mesh(web, strut=1.0, segments=8, joint="hull")
    sph = build_mesh(web, strut=1.0, segments=8, joint="sphere")
    assert hull.mesh.is_watertight and hull.report.volume_mm3 > 0
    assert hull.report.bodies == sph.report.bodies
    assert hull.mesh.volume >= sph.mesh.volume * (1 - 1e-3)
    assert hull.mesh.volume < 1.3 * sph.mesh.volume
