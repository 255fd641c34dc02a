"""Tests of the procedural web builders: structure, reproducibility, config errors, shaping."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from araneus.builders import (
    BUILDERS,
    OrbConfig,
    TangleConfig,
    TentConfig,
    build,
    default_web,
    form_find,
    shape_web,
)
from araneus.builders._geometry import split_segments
from araneus.errors import AraneusError, ConfigError, InputError, SolverError
from araneus.web import THREAD_TYPES, WebGraph, thread_code

# a smaller tent keeps the generic tests fast; the default size is tested once
SMALL_TENT = TentConfig(sheet_radius=50.0, barrier_above=150, barrier_below=100, rim_threads=30)


def small(family: str):
    return {"orb": OrbConfig(), "tent": SMALL_TENT, "tangle": TangleConfig(n_threads=200)}[family]


@pytest.fixture(scope="module")
def tent() -> WebGraph:
    return default_web(seed=0)


@pytest.fixture(scope="module", params=[0, 1, 2, 3])
def orb(request) -> WebGraph:
    return build("orb", seed=request.param)


def _codes(web: WebGraph, *names: str) -> np.ndarray:
    return np.isin(web.edge_attrs["thread"], [thread_code(n) for n in names])


# ---------------------------------------------------------------------------- all families
@pytest.mark.parametrize("family", ["orb", "tent", "tangle"])
def test_structure_is_clean(family):
    web = build(family, small(family), seed=5)
    assert web.n_components == 1
    assert web.edge_lengths.min() > 1e-3  # no zero-length edges
    key = web.edges[:, 0] * web.n_nodes + web.edges[:, 1]
    assert len(np.unique(key)) == web.n_edges  # no duplicate edges
    assert web.degrees.max() <= 6
    assert web.degrees.min() >= 1
    codes = web.edge_attrs["thread"]
    assert codes.dtype == np.int8 and codes.min() > 0 and codes.max() < len(THREAD_TYPES)
    anchor = web.node_attrs["anchor"]
    assert anchor.dtype == bool and anchor.sum() >= 3
    assert np.all(web.degrees[anchor] == 1)
    assert web.meta["family"] == family and web.meta["seed"] == 5
    assert web.meta["config"] == dataclasses.asdict(small(family))


@pytest.mark.parametrize("family", ["orb", "tent", "tangle"])
def test_seed_reproducible(family):
    a = build(family, small(family), seed=11)
    b = build(family, small(family), seed=11)
    c = build(family, small(family), seed=12)
    assert a.equals(b)
    assert np.array_equal(a.edge_attrs["thread"], b.edge_attrs["thread"])
    assert not (a.n_nodes == c.n_nodes and np.allclose(a.pos, c.pos))


def test_default_web_is_the_tent(tent):
    assert tent.meta["family"] == "tent"
    assert tent.equals(build("tent", TentConfig(), seed=0))


# ---------------------------------------------------------------------------- orb
def _radii(web: WebGraph) -> int:
    """Radii = nodes joining a radial thread to the frame (one per radius)."""
    e = web.edges
    rad = np.zeros(web.n_nodes, bool)
    rad[e[_codes(web, "radial")].ravel()] = True
    frm = np.zeros(web.n_nodes, bool)
    frm[e[_codes(web, "frame", "bridge")].ravel()] = True
    return int(np.count_nonzero(rad & frm))


def test_orb_degree_four_dominates(orb):
    anchor = orb.node_attrs["anchor"]
    assert np.mean(orb.degrees[~anchor] == 4) >= 0.70


def test_orb_radii_and_anchors(orb):
    assert 20 <= _radii(orb) <= 40
    assert _radii(orb) == orb.meta["n_radii"]
    anchor = orb.node_attrs["anchor"]
    cfg = orb.meta["config"]
    assert anchor.sum() == cfg["n_anchors"] * cfg["anchors_per_corner"]
    # anchors sit at the rim: farther from the web's centre than every non-anchor node
    centre = orb.pos[~anchor].mean(axis=0)
    dist = np.linalg.norm(orb.pos - centre, axis=1)
    assert dist[anchor].min() > np.percentile(dist[~anchor], 95)


def test_orb_spiral_spacing_widens_outward_and_hub_is_high(orb):
    spiral_node = np.zeros(orb.n_nodes, bool)
    spiral_node[orb.edges[_codes(orb, "spiral")].ravel()] = True
    rad = _codes(orb, "radial") & spiral_node[orb.edges].all(axis=1)
    hub_nodes = np.unique(orb.edges[_codes(orb, "hub")].ravel())
    hub = orb.pos[hub_nodes].mean(axis=0)
    mid = orb.pos[orb.edges[rad]].mean(axis=1)
    r = np.linalg.norm(mid - hub, axis=1)
    gap = orb.edge_lengths[rad]  # distance between successive spiral turns on a radius
    inner, outer = r < np.percentile(r, 33), r > np.percentile(r, 67)
    assert gap[outer].mean() > 1.2 * gap[inner].mean()
    assert np.corrcoef(r, gap)[0, 1] > 0.3
    # hub above the geometric centre of the frame; more spiral below it
    frame = np.unique(orb.edges[_codes(orb, "frame", "bridge")].ravel())
    lo, hi = orb.pos[frame, 2].min(), orb.pos[frame, 2].max()
    assert hub[2] > (lo + hi) / 2
    below = orb.pos[spiral_node, 2] < hub[2]
    assert below.sum() > (~below).sum()
    # more radii below the hub than above it
    rad = np.zeros(orb.n_nodes, bool)
    rad[orb.edges[_codes(orb, "radial")].ravel()] = True
    ends = np.zeros(orb.n_nodes, bool)
    ends[frame] = True
    ends &= rad
    assert (orb.pos[ends, 2] < hub[2]).sum() > (orb.pos[ends, 2] > hub[2]).sum()


def test_orb_is_three_dimensional():
    web = build("orb", OrbConfig(sag=10.0, jitter=0.0), seed=1)
    free = ~web.node_attrs["anchor"]
    y = web.pos[free, 1]
    assert np.ptp(y) > 5.0  # sags out of the x-z plane
    flat = build("orb", OrbConfig(sag=0.0, jitter=0.0), seed=1)
    assert not np.allclose(flat.pos[:, 1], web.pos[:, 1])


def test_orb_hub_stays_inside_a_triangular_frame():
    # regression: a high hub in a narrow triangle used to fall outside the frame
    cfg = OrbConfig(
        n_anchors=3,
        hub_offset=0.25,
        max_radial_gap=20.0,
        spiral_spacing_inner=2.0,
        spiral_spacing_outer=2.0,
    )
    web = build("orb", cfg, seed=3)
    assert web.n_components == 1 and 20 <= _radii(web) <= 40


def test_more_radii_with_smaller_gap():
    few = _radii(build("orb", OrbConfig(max_radial_gap=60.0), seed=0))
    many = _radii(build("orb", OrbConfig(max_radial_gap=25.0), seed=0))
    assert many > few


# ---------------------------------------------------------------------------- tent
def test_tent_default_size_and_degrees(tent):
    assert 10_000 <= tent.n_nodes <= 30_000
    assert 2.6 <= tent.degrees.mean() <= 3.6
    assert np.mean(tent.degrees == 3) > 0.4  # many T-junctions
    assert tent.n_components == 1
    assert tent.degrees.max() <= 6


def test_tent_sheet_is_domed_in_a_tangle(tent):
    sheet = np.unique(tent.edges[_codes(tent, "sheet", "radial")].ravel())
    hub = np.unique(tent.edges[_codes(tent, "hub")].ravel())
    p = tent.pos[sheet]
    r = np.hypot(p[:, 0], p[:, 1])
    rim = r > np.percentile(r, 95)
    assert tent.pos[hub, 2].mean() > p[rim, 2].mean() + 10  # hub pulled up
    mid = (r > 0.4 * r.max()) & (r < 0.6 * r.max())
    cone = tent.pos[hub, 2].mean() * 0.5  # straight cone height halfway
    assert p[mid, 2].mean() > cone  # bowed up: a dome, not a cone
    scaffold = np.unique(tent.edges[_codes(tent, "scaffold")].ravel())
    z = tent.pos[scaffold, 2]
    assert (z > 50).sum() > 50 and (z < -50).sum() > 50  # barrier above and below


def test_tent_radials_branch_to_keep_mesh_square():
    web = build("tent", SMALL_TENT, seed=3)
    sheet = _codes(web, "sheet")
    length = web.edge_lengths[sheet]
    # ring segments stay near the mesh spacing from hub to rim thanks to branching
    assert np.percentile(length, 95) < 2.5 * SMALL_TENT.mesh_spacing


# ---------------------------------------------------------------------------- tangle
def test_tangle_gumfoot_lines_reach_the_floor():
    cfg = TangleConfig(n_threads=300, n_gumfoot=25)
    web = build("tangle", cfg, seed=4)
    gum = web.edges[_codes(web, "gumfoot")]
    assert len(gum) == 25
    z = web.pos[gum, 2]
    low = gum[np.arange(len(gum)), np.argmin(z, axis=1)]
    assert np.all(web.pos[low, 2] == 0.0)
    assert np.all(web.node_attrs["anchor"][low])
    assert np.all(z.max(axis=1) >= cfg.scaffold_floor * cfg.height - 1.0)
    scaffold_anchor = web.node_attrs["anchor"].copy()
    scaffold_anchor[low] = False
    assert np.all(web.pos[scaffold_anchor, 2] >= cfg.scaffold_floor * cfg.height - 1e-9)


def test_tangle_attachments_prefer_near_threads():
    near = build("tangle", TangleConfig(n_threads=300, length_scale=10.0, n_gumfoot=0), 1)
    far = build("tangle", TangleConfig(n_threads=300, length_scale=500.0, n_gumfoot=0), 1)
    assert np.median(near.edge_lengths) < np.median(far.edge_lengths)


# ---------------------------------------------------------------------------- configs
@pytest.mark.parametrize(
    "cls, kwargs, name",
    [
        (OrbConfig, {"frame_radius": -1.0}, "frame_radius"),
        (OrbConfig, {"hub_radius": 0.0}, "hub_radius"),
        (OrbConfig, {"n_anchors": 7}, "n_anchors"),
        (OrbConfig, {"spiral_spacing_inner": 8.0}, "spiral_spacing_inner"),
        (OrbConfig, {"free_zone": 80.0}, "free_zone"),
        (OrbConfig, {"sag": float("nan")}, "sag"),
        (TentConfig, {"mesh_spacing": 200.0}, "mesh_spacing"),
        (TentConfig, {"branch_ratio": 0.9}, "branch_ratio"),
        (TentConfig, {"sheet_radius": 500.0}, "sheet_radius"),
        (TentConfig, {"stagger": 1.5}, "stagger"),
        (TangleConfig, {"width": 0.0}, "width"),
        (TangleConfig, {"n_threads": 0}, "n_threads"),
        (TangleConfig, {"scaffold_floor": 1.0}, "scaffold_floor"),
    ],
)
def test_bad_config_names_parameter(cls, kwargs, name):
    with pytest.raises(ConfigError, match=name):
        cls(**kwargs)


def test_build_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="orb, tent, tangle"):
        build("funnel")
    with pytest.raises(ConfigError, match="OrbConfig"):
        build("orb", TentConfig())
    with pytest.raises(ConfigError, match="seed"):
        build("orb", seed=-1)
    with pytest.raises(ConfigError, match="seed"):
        build("orb", seed=1.5)
    assert build("orb", seed=np.int64(4)).equals(build("orb", seed=4))
    assert set(BUILDERS) == {"orb", "tent", "tangle"}


# ---------------------------------------------------------------------------- CLI
def test_cli_build_writes_file_and_reports_bad_keys(tmp_path):
    from typer.testing import CliRunner

    from araneus.cli import app
    from araneus.io import read_web

    runner = CliRunner()
    out = tmp_path / "orb.json"
    res = runner.invoke(
        app, ["build", "orb", "--seed", "2", "--set", "n_anchors=5", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    web = read_web(out)
    ref = build("orb", OrbConfig(n_anchors=5), seed=2)
    assert web.n_nodes == ref.n_nodes and np.allclose(web.pos, ref.pos)
    png = tmp_path / "tangle.png"
    args = ["build", "tangle", "--set", "n_threads=50", "--out", str(tmp_path / "t.json")]
    res = runner.invoke(app, [*args, "--preview", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    res = runner.invoke(app, ["build", "orb", "--set", "radius=3", "--out", str(out)])
    assert isinstance(res.exception, ConfigError)
    assert "radius" in str(res.exception) and "frame_radius" in str(res.exception)
    res = runner.invoke(app, ["build", "tent", "--set", "mesh_spacing=-2", "--out", str(out)])
    assert isinstance(res.exception, ConfigError) and "mesh_spacing" in str(res.exception)


# ---------------------------------------------------------------------------- shaping
def test_form_find_hanging_chain_matches_analytic():
    n = 10
    pos = np.column_stack([np.arange(n + 1.0), np.zeros(n + 1), np.zeros(n + 1)])
    edges = np.column_stack([np.arange(n), np.arange(1, n + 1)])
    fixed = np.zeros(n + 1, bool)
    fixed[[0, n]] = True
    q, p = 2.0, 0.5
    loads = np.zeros((n + 1, 3))
    loads[:, 2] = -p
    out = form_find(pos, edges, fixed, np.full(n, q), loads)
    i = np.arange(n + 1)
    assert np.allclose(out[:, 2], -p / (2 * q) * i * (n - i))
    assert np.allclose(out[:, 0], i)  # no horizontal load: stays evenly spaced


def test_form_find_errors():
    pos = np.zeros((4, 3))
    edges = np.array([[0, 1], [2, 3]])
    fixed = np.array([True, False, False, False])
    with pytest.raises(SolverError, match="fixed node"):
        form_find(pos, edges, fixed, np.ones(2))
    with pytest.raises(InputError, match="q"):
        form_find(pos, edges, np.ones(4, bool), np.array([1.0, 0.0]))


def test_shape_web_sags_a_web_under_load():
    web = build("orb", OrbConfig(sag=0.0, jitter=0.0), seed=0)
    shaped = shape_web(web, load=(0.0, 0.0, -0.05))
    free = ~web.node_attrs["anchor"]
    assert shaped.pos[free, 2].mean() < web.pos[free, 2].mean()
    assert np.array_equal(shaped.pos[~free], web.pos[~free])
    with pytest.raises(InputError, match="thread type"):
        shape_web(web, q_by_type={"silk": 1.0})


def test_split_segments_orders_attachments():
    seg = np.array([[0, 1], [2, 3]])
    edges, parent = split_segments(
        seg, np.array([0, 0, 1]), np.array([0.7, 0.2, 0.5]), np.array([4, 5, 6])
    )
    assert edges.tolist() == [[0, 5], [5, 4], [4, 1], [2, 6], [6, 3]]
    assert parent.tolist() == [0, 0, 0, 1, 1]


# ---------------------------------------------------------------------------- property tests


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_anchors=st.integers(3, 6),
    hub_offset=st.floats(0.0, 0.3),
    gap=st.floats(20.0, 70.0),
    s_in=st.floats(1.5, 4.0),
    extra=st.floats(0.0, 4.0),
    seed=st.integers(0, 10_000),
)
def test_orb_valid_for_any_sane_config(n_anchors, hub_offset, gap, s_in, extra, seed):
    cfg = OrbConfig(
        n_anchors=n_anchors,
        hub_offset=hub_offset,
        max_radial_gap=gap,
        spiral_spacing_inner=s_in,
        spiral_spacing_outer=s_in + extra,
    )
    web = build("orb", cfg, seed=seed)
    anchor = web.node_attrs["anchor"]
    assert web.n_components == 1
    assert web.degrees.max() <= 6 and np.all(web.degrees[anchor] == 1)
    assert web.edge_lengths.min() > 1e-3
    assert np.mean(web.degrees[~anchor] == 4) >= 0.6


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_threads=st.integers(1, 120),
    n_gumfoot=st.integers(0, 20),
    p_anchor=st.floats(0.0, 1.0),
    length_scale=st.floats(1.0, 500.0),
    seed=st.integers(0, 10_000),
)
def test_tangle_valid_for_any_sane_config(n_threads, n_gumfoot, p_anchor, length_scale, seed):
    cfg = TangleConfig(
        n_threads=n_threads, n_gumfoot=n_gumfoot, p_anchor=p_anchor, length_scale=length_scale
    )
    web = build("tangle", cfg, seed=seed)
    assert web.n_components == 1
    assert web.degrees.max() <= 6
    assert web.edge_lengths.min() > 1e-3
    assert np.count_nonzero(_codes(web, "gumfoot")) == n_gumfoot


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stagger=st.floats(0.0, 1.0),
    branch_ratio=st.floats(1.2, 3.0),
    hub_radials=st.integers(3, 40),
    bulge=st.floats(-20.0, 20.0),
    seed=st.integers(0, 10_000),
)
def test_tent_valid_for_any_sane_config(stagger, branch_ratio, hub_radials, bulge, seed):
    cfg = dataclasses.replace(
        SMALL_TENT, stagger=stagger, branch_ratio=branch_ratio, hub_radials=hub_radials, bulge=bulge
    )
    web = build("tent", cfg, seed=seed)
    assert web.n_components == 1
    assert web.degrees.max() <= 6
    assert web.edge_lengths.min() > 1e-3
    assert 2.6 <= web.degrees.mean() <= 3.9


def test_cli_build_checks_names_before_building(tmp_path):
    from typer.testing import CliRunner

    from araneus.cli import app

    run = CliRunner().invoke
    out = tmp_path / "w.json"
    res = run(app, ["build", "orb", "--out", str(out), "--preview", str(tmp_path / "p.nope")])
    assert isinstance(res.exception, InputError) and ".nope" in str(res.exception)
    assert not out.exists()
    res = run(app, ["build", "orb", "--out", str(out), "--preview", str(tmp_path / "p.png"),
                    "--linewidth", "0"])  # fmt: skip
    assert isinstance(res.exception, InputError) and "linewidth" in str(res.exception)
    res = run(app, ["build", "orb", "--out", str(tmp_path / "w.nope")])
    assert isinstance(res.exception, AraneusError) and not out.exists()


# ---------------------------------------------------------------------------- calibration
def test_tent_scan_like_form_meets_the_real_scan_targets():
    from araneus.builders import check_targets

    for seed in (0, 1, 2):
        web = build("tent", TentConfig(resolution="auto"), seed=seed)
        result = check_targets("tent", web)
        assert all(ok for *_, ok in result.values()), (seed, result)


def test_orb_meets_the_traced_orb_targets():
    from araneus.builders import check_targets

    for seed in range(6):
        result = check_targets("orb", build("orb", seed=seed))
        assert all(ok for *_, ok in result.values()), (seed, result)


def test_shape_statistics_of_a_known_web():
    from araneus.builders import shape_statistics

    # a vertical segment, two horizontal ones of length 1 and 3: a path 0-1-2-3
    web = WebGraph([[0, 0, 0], [0, 0, 2], [1, 0, 2], [4, 0, 2]], [[0, 1], [1, 2], [2, 3]])
    st = shape_statistics(web)
    assert st["degree_1"] == 0.5 and st["degree_2"] == 0.5 and st["degree_5+"] == 0.0
    assert np.isclose(st["vertical_share"], 1 / 3)
    assert np.isclose(st["length_cv"], np.std([2, 1, 3]) / 2)
    assert "radials" not in st
    with pytest.raises(InputError):
        shape_statistics(WebGraph(np.zeros((2, 3))))


# ---------------------------------------------------------------------------- force densities
@pytest.mark.parametrize("family", ["orb", "tent", "tangle"])
def test_force_density_attribute_is_the_type_default(family):
    from araneus.builders import DEFAULT_FORCE_DENSITY

    web = build(family, small(family), seed=2)
    q = web.edge_attrs["force_density"]
    expect = [DEFAULT_FORCE_DENSITY[THREAD_TYPES[c]] for c in web.edge_attrs["thread"]]
    assert q.dtype == np.float64 and np.array_equal(q, expect)


def test_orb_sag_is_the_equilibrium_of_the_stored_force_densities():
    web = build("orb", OrbConfig(jitter=0.0), seed=1)
    q = web.edge_attrs["force_density"]
    free = ~web.node_attrs["anchor"]
    # out-of-plane (y) forces at free nodes balance a uniform lateral load
    e = web.edges
    dy = web.pos[e[:, 1], 1] - web.pos[e[:, 0], 1]
    f = np.zeros(web.n_nodes)
    np.add.at(f, e[:, 0], q * dy)
    np.add.at(f, e[:, 1], -q * dy)
    assert np.ptp(f[free]) < 1e-9 * np.abs(f[free]).max()  # the same load on every node


# ---------------------------------------------------------------------------- scan-like form
def _line(n_edges=1, length=10.0, q=2.0):
    pos = np.column_stack([np.arange(n_edges + 1) * length, np.zeros(n_edges + 1), np.zeros(n_edges + 1)])
    edges = np.column_stack([np.arange(n_edges), np.arange(1, n_edges + 1)])
    anchor = np.zeros(n_edges + 1, bool)
    anchor[[0, -1]] = True
    return WebGraph(
        pos, edges, node_attrs={"anchor": anchor},
        edge_attrs={"thread": np.full(n_edges, thread_code("radial"), np.int8),
                    "force_density": np.full(n_edges, q)},
    )  # fmt: skip


def test_resample_keeps_the_tension_of_every_thread():
    from araneus.builders.resample import resample

    web = build("tent", SMALL_TENT, seed=1)
    out = resample(web, "auto", jitter=0.0, sag=0.0, seed=3)
    # without jitter and sag each piece lies on its thread: q * length = the thread's q * l
    t_in = np.sort(web.edge_attrs["force_density"] * web.edge_lengths)
    t_out = out.edge_attrs["force_density"] * out.edge_lengths
    k = np.clip(np.searchsorted(t_in, t_out), 1, len(t_in) - 1)
    nearest = np.minimum(np.abs(t_in[k] - t_out), np.abs(t_in[k - 1] - t_out))
    assert np.all(nearest <= 1e-6 * t_out)  # (round-off of the shortest pieces)
    assert out.n_edges > 2 * web.n_edges
    assert np.array_equal(out.pos[: web.n_nodes], web.pos)
    assert out.node_attrs["anchor"][: web.n_nodes].tolist() == web.node_attrs["anchor"].tolist()
    assert not out.node_attrs["anchor"][web.n_nodes :].any()
    assert set(np.unique(out.edge_attrs["thread"])) == set(np.unique(web.edge_attrs["thread"]))


def test_resample_subdivides_with_exact_tension_and_sag():
    from araneus.builders.resample import resample

    web = _line(n_edges=1, length=10.0, q=2.0)
    out = resample(web, 1.0, segment_cv=0.0, jitter=0.0, sag=0.02, seed=0)
    assert out.n_edges == 10 and out.n_nodes == 11
    # same tension q * l = 20 in ten pieces of length 1: q_piece = q * l / l_piece = 20
    assert np.allclose(out.edge_attrs["force_density"], 20.0)
    assert np.array_equal(out.edge_attrs["thread"], np.full(10, thread_code("radial")))
    z = out.pos[:, 2]
    x = out.pos[:, 0]
    # funicular of equal nodal loads: a parabola through the nodes, mid-span sag ratio sag/q
    expect = -0.02 / 2.0 * 10.0 * 4 * (x / 10.0) * (1 - x / 10.0)
    assert np.allclose(z, expect, atol=1e-12)
    assert np.isclose(z.min(), -0.1)
    # uneven pieces: q_piece = q * l / l_piece, and every new node is in equilibrium
    out = resample(web, 1.0, segment_cv=0.6, jitter=0.0, sag=0.02, seed=5)
    q, e = out.edge_attrs["force_density"], out.edges
    straight = np.abs(out.pos[e[:, 1], 0] - out.pos[e[:, 0], 0])
    assert np.allclose(q * straight, 2.0 * 10.0)
    f = np.zeros(out.n_nodes)
    dz = out.pos[e[:, 1], 2] - out.pos[e[:, 0], 2]
    np.add.at(f, e[:, 0], q * dz)
    np.add.at(f, e[:, 1], -q * dz)
    carried = np.zeros(out.n_nodes)
    np.add.at(carried, e.ravel(), np.repeat(straight / 2, 2))
    assert np.allclose(f[2:], 8 * 0.02 * carried[2:], atol=1e-12)


def test_resample_settings_and_errors():
    from araneus.builders.resample import auto_resolution, resample, thread_lengths

    web = build("orb", seed=0)
    assert resample(web, 0) is web
    # the orb's threads are far apart: auto is the thread-length rule
    assert np.isclose(auto_resolution(web), 0.5 * np.median(thread_lengths(web)))
    scan = resample(web, "auto", seed=1)
    assert np.mean(scan.degrees == 2) > 0.5
    assert scan.meta["resample"]["resolution"] == auto_resolution(web)
    # threads of a scan-like web are its junction-to-junction polylines: auto is stable
    assert np.isclose(auto_resolution(scan), auto_resolution(web), rtol=0.05)
    assert resample(web, "auto", seed=1).equals(scan)
    assert not resample(web, "auto", seed=2).equals(scan)
    for kw, name in (({"resolution": "fine"}, "resolution"), ({"resolution": -1.0}, "resolution"),
                     ({"jitter": 2.0}, "jitter"), ({"sag": float("nan")}, "sag"),
                     ({"segment_cv": -0.1}, "segment_cv"), ({"seed": -3}, "seed")):  # fmt: skip
        with pytest.raises(ConfigError, match=name):
            resample(web, **kw)


def test_thread_spacing_known_answers():
    from araneus.builders.resample import thread_spacing

    # two parallel threads 0.5 apart; a third meets the first at its end node 1
    pos = np.array([[0, 0, 0], [10, 0, 0], [0, 0.5, 0], [10, 0.5, 0], [10, -5, 0]], float)
    web = WebGraph(pos, np.array([[0, 1], [2, 3], [1, 4]]))
    d = thread_spacing(web, step=1.0)
    assert len(d) == 10 + 10 + 5
    assert np.allclose(d[:20], 0.5)  # each parallel thread sees the other
    # the third thread meets the first at a junction (not counted): its nearest other
    # thread is the second, whose end is 0.5 above the junction
    assert np.allclose(d[20:], 1.0 + np.arange(5))
    # a polyline thread does not see its own segments; alone, it sees nothing
    line = WebGraph(np.c_[np.arange(30.0), np.zeros(30), np.zeros(30)],
                    np.c_[np.arange(29), np.arange(1, 30)])  # fmt: skip
    assert np.isinf(thread_spacing(line)).all()
    assert len(thread_spacing(WebGraph(np.zeros((2, 3)), np.zeros((0, 2), int)))) == 0


def test_auto_resolution_resolves_neighbouring_threads():
    from araneus.builders.resample import (
        AUTO_MAX_REFINE,
        AUTO_SPACING,
        auto_resolution,
        thread_lengths,
    )

    # 40 parallel threads 20 long, 0.8 apart: half the thread length (10) would merge
    # them; auto keeps a segment within twice the spacing
    k = np.arange(40)
    pos = np.concatenate([np.c_[np.zeros(40), 0.8 * k, np.zeros(40)],
                          np.c_[np.full(40, 20.0), 0.8 * k, np.zeros(40)]])  # fmt: skip
    web = WebGraph(pos, np.c_[k, k + 40])
    assert np.median(thread_lengths(web)) == pytest.approx(20.0)
    assert auto_resolution(web) == pytest.approx(AUTO_SPACING * 0.8)
    # the default tangle is crowded: the spacing rule binds and the scan-like form
    # resolves it; the tent keeps the thread-length rule
    tangle = build("tangle", seed=0)
    assert auto_resolution(tangle) < 0.25 * np.median(thread_lengths(tangle))
    tent = build("tent", small("tent"), seed=0)
    assert np.isclose(auto_resolution(tent), 0.5 * np.median(thread_lengths(tent)))
    # near-duplicate threads (1e-6 apart) refine by at most AUTO_MAX_REFINE
    twin = WebGraph(np.concatenate([pos, pos + [0, 1e-6, 0]]),
                    np.concatenate([web.edges, web.edges + 80]))  # fmt: skip
    assert auto_resolution(twin) == pytest.approx(0.5 * 20.0 / AUTO_MAX_REFINE)


def test_resample_refuses_too_many_segments():
    from araneus.builders.resample import resample

    web = build("orb", seed=0)
    total = web.edge_lengths.sum()
    with pytest.raises(InputError, match=r"resolution 0\.001 would cut .* segments"):
        resample(web, 0.001, max_segments=int(total / 0.01))
    with pytest.raises(InputError, match=r"\(auto\) would cut"):
        resample(web, "auto", max_segments=10)
    assert resample(web, 1.0, max_segments=int(total) + 1).n_nodes > web.n_nodes


@pytest.mark.parametrize("family", ["orb", "tent", "tangle"])
def test_scan_like_build_is_the_resampled_junction_web(family):
    from araneus.builders.resample import resample

    cfg = small(family)
    scan = build(family, dataclasses.replace(cfg, resolution="auto"), seed=4)
    junctions = build(family, cfg, seed=4)
    info = scan.meta["resample"]
    again = resample(junctions, "auto", seed=info["seed"])
    assert again.equals(scan)
    assert info["input_nodes"] == junctions.n_nodes
    assert np.mean(scan.degrees == 2) > 0.5 and scan.n_components == 1
    assert scan.edge_lengths.std() / scan.edge_lengths.mean() < 0.8
    assert scan.meta["config"]["resolution"] == "auto"


def test_resolution_setting_parses_and_validates():
    from araneus._util import apply_overrides

    assert apply_overrides(OrbConfig(), ["resolution=auto"]).resolution == "auto"
    assert apply_overrides(OrbConfig(), ["resolution=1.5"]).resolution == 1.5
    assert apply_overrides(OrbConfig(), ["resolution=0"]).resolution == 0.0
    with pytest.raises(ConfigError, match="resolution"):
        apply_overrides(TentConfig(), ["resolution=fine"])
    with pytest.raises(ConfigError, match="resolution"):
        TangleConfig(resolution=-2.0)


def test_cli_build_scan_like_and_resample(tmp_path):
    from typer.testing import CliRunner

    from araneus.builders.resample import resample
    from araneus.cli import app
    from araneus.io import read_web

    run = CliRunner().invoke
    junctions, scan = tmp_path / "j.json", tmp_path / "s.json"
    res = run(app, ["build", "orb", "--out", str(junctions)])
    assert res.exit_code == 0, res.output
    res = run(app, ["build", "orb", "--set", "resolution=auto", "--out", str(scan)])
    assert res.exit_code == 0 and "scan-like" in res.output, res.output
    web = read_web(scan)
    assert np.mean(web.degrees == 2) > 0.5 and "force_density" in web.edge_attrs
    out = tmp_path / "r.json"
    res = run(app, ["resample", str(junctions), str(out), "--resolution", "2", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert read_web(out).equals(resample(read_web(junctions), 2.0, seed=3))
    res = run(app, ["resample", str(junctions), str(tmp_path / "x.json"), "--resolution", "fine"])
    assert isinstance(res.exception, ConfigError) and "--resolution" in str(res.exception)
    assert not (tmp_path / "x.json").exists()
