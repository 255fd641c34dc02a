"""Tests of hierarchical assembly: curves, frames, placement, merging, stitching, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from araneus.assembly import (
    CURVES,
    Curve,
    CurveSpec,
    assemble,
    plan_assembly,
    read_points_csv,
)
from araneus.errors import ConfigError, FormatError, InputError, ModelError
from araneus.web import WebGraph, thread_code

STITCH = thread_code("stitch")


# ---------------------------------------------------------------------- pieces
def orb_piece(rings: int = 4, spokes: int = 16, radius: float = 5.0, seed: int = 0) -> WebGraph:
    """A small jittered orb (rings x spokes nodes, ring and radial threads) in the xz plane."""
    rng = np.random.default_rng(seed)
    r = np.linspace(radius / rings, radius, rings)
    a = np.linspace(0, 2 * np.pi, spokes, endpoint=False)
    rr, aa = np.meshgrid(r, a, indexing="ij")
    pos = np.stack(
        [rr.ravel() * np.cos(aa.ravel()), np.zeros(rr.size), rr.ravel() * np.sin(aa.ravel())], 1
    )
    pos += rng.normal(scale=0.05 * radius / rings, size=pos.shape)
    idx = np.arange(rr.size).reshape(rings, spokes)
    e = [np.stack([idx[:, i], idx[:, (i + 1) % spokes]], 1) for i in range(spokes)]
    e.append(np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1))
    edges = np.sort(np.concatenate(e), 1)
    thread = np.where(
        np.arange(len(edges)) < rings * spokes, thread_code("spiral"), thread_code("radial")
    )
    return WebGraph(pos, edges, edge_attrs={"thread": thread.astype(np.int8)})


def grid_piece(cols: int = 9, rows: int = 3, h: float = 1.0) -> WebGraph:
    """A rows x cols lattice in the xz plane with spacing h (translation-symmetric along x)."""
    xx, zz = np.meshgrid(np.arange(cols) * h, np.arange(rows) * h)
    pos = np.stack([xx.ravel(), np.zeros(xx.size), zz.ravel()], 1)
    idx = np.arange(xx.size).reshape(rows, cols)
    e = np.concatenate(
        [
            np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1),
            np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1),
        ]
    )
    return WebGraph(pos, e)


class GradedOrbGenerator:
    """A real (procedural) generator: orbs whose ring spacing follows ``mean_edge_length``.

    Implements the WebGenerator sampling interface; records every call.
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, float]] = []

    def sample(
        self, conditions: dict[str, float], n: int, *, seed: int | None = None
    ) -> list[WebGraph]:
        self.calls.append(dict(conditions))
        length = conditions.get("mean_edge_length", 1.0)
        rng = np.random.default_rng(seed)
        rings = 3 + int(rng.integers(0, 2))
        return [
            orb_piece(rings, 12, radius=2.0 * length * rings, seed=int(rng.integers(1 << 30)))
            for _ in range(n)
        ]


def check_invariants(web: WebGraph, plan, tol: float) -> None:
    """One component, no zero-length/duplicate edges, every placed node within tol of a node."""
    assert web.n_components == 1
    assert web.edge_lengths.min() > 0
    key = web.edges[:, 0] * web.n_nodes + web.edges[:, 1]
    assert len(np.unique(key)) == len(key)
    tree = cKDTree(web.pos)
    for k in range(plan.n_pieces):
        d, _ = tree.query(plan.placed_positions(k))
        assert d.max() <= tol + 1e-9


# ---------------------------------------------------------------------- curves
def _frames(curve: Curve, n: int = 400):
    s = np.linspace(0, curve.length, n)
    return s, *curve.frames_at(s)


@pytest.mark.parametrize(
    "name, settings",
    [
        ("helix", ["turns=2"]),
        ("reference", []),
        ("lorenz", ["duration=3"]),
        ("circle", []),
        ("line", ["length=30", "direction=1,1,0"]),
    ],
)
def test_curve_frames_orthonormal_continuous(name, settings):
    curve = CurveSpec(name, settings).build(n_samples=2048)
    s, pos, rot = _frames(curve, 2000)
    eye = np.einsum("kji,kjl->kil", rot, rot)
    assert np.abs(eye - np.eye(3)).max() < 1e-9
    assert np.allclose(np.linalg.det(rot), 1.0)
    # continuity: frames turn by a small angle between nearby samples
    step = np.linalg.norm(np.diff(rot, axis=0), axis=(1, 2))
    assert step.max() < 0.5, step.max()
    # arc-length parametrisation: chord of neighbouring samples ~ ds
    chord = np.linalg.norm(np.diff(curve.points, axis=0), axis=1)
    assert np.allclose(chord, curve.ds, rtol=0.05)


@pytest.mark.parametrize(
    "name, settings",
    [("reference", []), ("circle", ["radius=7"]), ("helix", ["turns=1", "pitch=0"])],
)
def test_closed_curves_close(name, settings):
    curve = CurveSpec(name, settings).build(n_samples=1024)
    if name == "helix":  # a helix of pitch 0 is a circle, but built open
        assert not curve.closed
        return
    assert curve.closed
    p0, r0 = curve.frames_at([0.0])
    p1, r1 = curve.frames_at([curve.length])
    assert np.allclose(p0, p1) and np.allclose(r0, r1)
    # the seam is as smooth as the rest: no jump in frames across it
    pa, ra = curve.frames_at([curve.length - curve.ds / 2, curve.ds / 2])
    assert np.linalg.norm(ra[0] - ra[1]) < 0.1


def test_rotation_minimising_on_helix():
    curve = CurveSpec("helix", ["radius=5", "pitch=20", "turns=3"]).build(n_samples=4096)
    t, u = curve.tangents, curve.ups
    du = np.diff(u, axis=0) / curve.ds
    side = np.cross(u, t)[:-1]
    # RMF: the up vector changes only along the tangent (no twist about it)
    assert np.abs(np.sum(du * side, axis=1)).max() < 1e-3
    assert np.abs(np.sum(du * t[:-1], axis=1)).max() > 1e-2  # it does turn with the curve


def test_no_flip_at_inflection():
    # planar S curve (sine wave) in the xy plane: Frenet normals flip at each inflection,
    # the rotation-minimising up vector must stay the plane normal
    curve = Curve.from_function(lambda t: np.stack([t, 3 * np.sin(t), 0 * t], -1), (0, 4 * math.pi))
    up = curve.ups
    assert np.allclose(np.abs(up[:, 2]), 1.0)
    assert np.all(up[:, 2] > 0)


def test_from_function_scalar_callable_and_polyline():
    c1 = Curve.from_function(
        lambda t: (math.cos(t), math.sin(t), 0.0), (0, 2 * math.pi), closed=True, n_samples=256
    )
    assert c1.closed and abs(c1.length - 2 * math.pi) < 1e-3
    c2 = Curve.from_points([[0, 0, 0], [1, 0, 0], [1, 1, 0]], n_samples=64)
    assert abs(c2.length - 2) < 0.02  # resampling cuts the corner slightly
    assert np.allclose(c2.points[[0, -1]], [[0, 0, 0], [1, 1, 0]])


def test_spline_through_points(tmp_path):
    pts = np.array([[0, 0, 0], [10, 2, 1], [20, -3, 4], [30, 0, 8]], float)
    f = tmp_path / "pts.csv"
    f.write_text("x,y,z\n" + "\n".join(",".join(map(str, p)) for p in pts) + "\n")
    read = read_points_csv(f)
    assert np.array_equal(read, pts)
    curve = CurveSpec("spline", [], read).build(n_samples=4096)
    d, _ = cKDTree(curve.points).query(pts)
    assert d.max() < 0.05  # passes through every control point
    closed = CurveSpec("spline", ["closed=true"], pts).build(n_samples=2048)
    p0, r0 = closed.frames_at([0.0])
    p1, r1 = closed.frames_at([closed.length])
    assert closed.closed and np.allclose(p0, p1) and np.allclose(r0, r1)


def test_lorenz_is_the_attractor():
    curve = CurveSpec("lorenz", ["duration=5", "scale=0.5"]).build(n_samples=2048)
    lo, hi = curve.points.min(0), curve.points.max(0)
    assert 0.5 * 15 < hi[0] - lo[0] < 0.5 * 45 and hi[2] > 0.5 * 35  # the butterfly's extent


def test_curve_bad_inputs(tmp_path):
    with pytest.raises(ConfigError, match="valid: pitch, radius, turns"):
        CurveSpec("helix", ["raduis=3"])
    with pytest.raises(ConfigError, match="valid: helix, reference"):
        CurveSpec("spiral")
    with pytest.raises(ConfigError, match="radius"):
        CurveSpec("circle", ["radius=-1"])
    with pytest.raises(ConfigError, match="dt"):
        CurveSpec("lorenz", ["dt=0.5"])
    with pytest.raises(InputError, match="non-finite"):
        Curve.from_function(lambda t: np.stack([t, np.where(t > 1, np.nan, t), t], -1), (0, 2))
    with pytest.raises(InputError, match="not finite"):
        Curve([[0, 0, 0], [1, np.nan, 0]])
    with pytest.raises(InputError, match="closed"):
        Curve.from_function(lambda t: np.stack([t, t, t], -1), (0, 1), closed=True)
    with pytest.raises(InputError, match="points"):
        CurveSpec("spline")
    with pytest.raises(InputError, match="coincide"):
        CurveSpec("spline", [], [[0, 0, 0], [0, 0, 0], [1, 1, 1]]).build()
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5\n")
    with pytest.raises(FormatError, match="line 2"):
        read_points_csv(bad)
    assert set(CURVES) == {"helix", "reference", "lorenz", "circle", "line", "spline"}


# ---------------------------------------------------------------------- assembly
def test_helix_reference_case_invariants():
    piece = orb_piece()
    kw = dict(steps=80, overlap=0.5)
    web, rep = assemble("helix", piece, **kw)
    plan = plan_assembly("helix", piece, **kw)
    check_invariants(web, plan, rep.tol)
    assert rep.pieces == 80 and rep.components == 1
    assert rep.nodes == web.n_nodes == rep.placed_nodes - rep.merged_nodes
    assert rep.stitches > 80  # neighbouring pieces are stitched
    assert rep.max_displacement <= rep.tol
    stitches = web.edge_attrs["thread"] == STITCH
    assert np.count_nonzero(stitches) == rep.stitches + rep.bridges
    # stitches only join different pieces, within the radius
    pc = web.node_attrs["piece"][web.edges[stitches]]
    assert np.all(pc[:, 0] != pc[:, 1])
    assert web.edge_lengths[stitches].max() <= rep.stitch_radius + 1e-9
    # the helix is really followed: centres at radius 20
    assert np.allclose(np.hypot(plan.centers[:, 0], plan.centers[:, 1]), 20.0, atol=1e-3)
    assert web.meta["assembly"]["pieces"] == 80


def test_exact_merging_of_translation_symmetric_pieces():
    # a 3 x 9 lattice, half overlap along a line: the overlapping columns coincide exactly
    piece = grid_piece()
    k = 6
    web, rep = assemble(
        CurveSpec("line", ["direction=1,0,0"]),
        piece,
        steps=k,
        overlap=0.5,
        tol=0.1,
        stitch_radius=0,
    )
    cols = 4 * k + 5
    assert web.n_nodes == 3 * cols
    assert rep.merged_nodes == 15 * (k - 1)
    assert web.n_edges == 3 * (cols - 1) + 2 * cols  # the long lattice, no duplicate threads
    assert rep.stitches == 0 and rep.bridges == 0 and web.n_components == 1
    check_invariants(
        web, plan_assembly(CurveSpec("line", ["direction=1,0,0"]), piece, steps=k, tol=0.1), 0.1
    )


def test_stitching_gap_and_degree_limit():
    piece = grid_piece()
    curve = Curve.from_points([[0, 0, 0], [8.6, 0, 0]], n_samples=64)  # pieces 0.6 apart
    web, rep = assemble(curve, piece, steps=2, tol=0.1, stitch_radius=1.0)
    assert rep.merged_nodes == 0 and rep.stitches == 3 and rep.bridges == 0
    st = web.edge_attrs["thread"] == STITCH
    assert np.allclose(web.edge_lengths[st], 0.6)
    assert web.n_components == 1
    # middle-row end nodes have degree 3: with max_degree 3 only the corners may stitch
    web3, rep3 = assemble(curve, piece, steps=2, tol=0.1, stitch_radius=1.0, max_degree=3)
    assert rep3.stitches == 2
    ends = web3.edges[web3.edge_attrs["thread"] == STITCH].ravel()
    assert web3.degrees[ends].max() <= 3
    # no candidate within the radius: one bridge keeps the result connected
    web0, rep0 = assemble(curve, piece, steps=2, tol=0.1, stitch_radius=0.5)
    assert rep0.stitches == 0 and rep0.bridges == 1 and web0.n_components == 1


def test_degree_limit_respected_by_all_stitches():
    web, rep = assemble("circle", orb_piece(), overlap=0.3, max_degree=4)
    ends = web.edges[web.edge_attrs["thread"] == STITCH].ravel()
    assert web.degrees[ends].max() <= 4
    assert rep.degree_limit_relaxed == 0


def test_closed_curve_joins_last_piece_to_first():
    web, rep = assemble("circle", orb_piece(), overlap=0.4)
    assert rep.closed and rep.bridges == 0 and web.n_components == 1
    pc = web.node_attrs["piece"][web.edges]
    k = rep.pieces
    assert np.any((pc.min(1) == 0) & (pc.max(1) == k - 1))


@pytest.mark.parametrize("curve", ["helix", "circle"])
def test_result_independent_of_chunking(curve):
    piece = orb_piece(3, 10)
    kw = dict(steps=40, overlap=0.6) if curve == "helix" else dict(overlap=0.6)
    a, ra = assemble(curve, piece, **kw)
    b, rb = assemble(curve, piece, chunk_nodes=50, **kw)
    assert a.equals(b)

    def threads_by_edge(w):
        order = np.lexsort(w.edges.T[::-1])
        return w.edges[order], w.edge_attrs["thread"][order]

    (ea, ta), (eb, tb) = threads_by_edge(a), threads_by_edge(b)
    assert np.array_equal(ea, eb) and np.array_equal(ta, tb)
    assert np.array_equal(a.node_attrs["piece"], b.node_attrs["piece"])
    assert ra == rb


def test_upright_and_scale_and_piece_list():
    pieces = [orb_piece(seed=1), orb_piece(3, 12, 3.0, seed=2)]
    web, rep = assemble("line", pieces, steps=7, orient="upright", scale=2.0)
    plan = plan_assembly("line", pieces, steps=7, orient="upright", scale=2.0)
    assert np.allclose(plan.rotations, np.eye(3))
    check_invariants(web, plan, rep.tol)
    assert np.array_equal(plan.index, [0, 1, 0, 1, 0, 1, 0])
    # the larger piece is spaced further: gaps follow (1 - overlap) x mean size of neighbours
    assert np.allclose(
        np.diff(plan.s),
        0.5
        * (
            pieces[0].bbox()[1][0]
            - pieces[0].bbox()[0][0]
            + pieces[1].bbox()[1][0]
            - pieces[1].bbox()[0][0]
        ),
        rtol=0.01,
    )


def test_generator_graded_structure():
    gen = GradedOrbGenerator()
    cond = {"mean_edge_length": (0.5, 1.5)}
    web, rep = assemble("helix", gen, steps=12, conditions=cond, seed=3)
    assert len(gen.calls) == 12
    ramp = [c["mean_edge_length"] for c in gen.calls]
    assert np.allclose(ramp, np.linspace(0.5, 1.5, 12))
    # graded: piece edges (not stitches) grow along the curve
    inner = web.edge_attrs["thread"] != STITCH
    piece_of_edge = web.node_attrs["piece"][web.edges[inner, 0]]
    lens = web.edge_lengths[inner]
    first, last = lens[piece_of_edge < 3].mean(), lens[piece_of_edge >= 9].mean()
    assert last > 2 * first
    plan = plan_assembly("helix", GradedOrbGenerator(), steps=12, conditions=cond, seed=3)
    check_invariants(web, plan, rep.tol)
    # same seed, same structure; another seed, another one
    again, _ = assemble("helix", GradedOrbGenerator(), steps=12, conditions=cond, seed=3)
    other, _ = assemble("helix", GradedOrbGenerator(), steps=12, conditions=cond, seed=4)
    assert web.equals(again) and not web.equals(other)
    # callable schedules work too
    gen2 = GradedOrbGenerator()
    assemble("line", gen2, steps=3, conditions={"mean_edge_length": lambda u: 1 + u})
    assert [c["mean_edge_length"] for c in gen2.calls] == [1.0, 1.5, 2.0]


def test_assembly_bad_inputs():
    piece = orb_piece()
    for steps in (0, -3, 2.5, True):
        with pytest.raises(InputError, match="steps"):
            assemble("helix", piece, steps=steps)
    for ov in (1.0, 1.5, -0.1, float("nan")):
        with pytest.raises(InputError, match="overlap"):
            assemble("helix", piece, steps=3, overlap=ov)
    with pytest.raises(InputError, match="empty"):
        assemble("helix", WebGraph(np.zeros((0, 3))), steps=3)
    with pytest.raises(InputError, match="empty"):
        assemble("helix", [], steps=3)
    with pytest.raises(InputError, match="zero extent"):
        assemble("helix", WebGraph([[1.0, 2.0, 3.0]]), steps=3)
    with pytest.raises(InputError, match="steps is required"):
        assemble("helix", piece)
    with pytest.raises(InputError, match="steps is required"):
        assemble("circle", GradedOrbGenerator())
    with pytest.raises(InputError, match="pieces must be"):
        assemble("helix", "piece.json", steps=3)
    with pytest.raises(InputError, match="orient"):
        assemble("helix", piece, steps=3, orient="sideways")
    with pytest.raises(InputError, match="tol"):
        assemble("helix", piece, steps=3, tol=-1)
    with pytest.raises(InputError, match="scale"):
        assemble("helix", piece, steps=3, scale=0)
    with pytest.raises(InputError, match="condition 'x'"):
        assemble("helix", GradedOrbGenerator(), steps=2, conditions={"x": float("inf")})
    with pytest.raises(ConfigError, match="valid: pitch, radius, turns"):
        assemble(CurveSpec("helix", ["height=3"]), piece, steps=3)


class _BrokenGenerator:
    def __init__(self, out):
        self.out = out

    def sample(self, conditions, n, *, seed=None):
        if isinstance(self.out, Exception):
            raise self.out
        return self.out


def test_generator_failures_are_model_errors():
    with pytest.raises(ModelError, match="placement 0"):
        assemble("line", _BrokenGenerator(RuntimeError("cuda out of memory")), steps=2)
    with pytest.raises(ModelError, match="no piece"):
        assemble("line", _BrokenGenerator([]), steps=2)
    with pytest.raises(InputError, match="generated piece 0 is empty"):
        assemble("line", _BrokenGenerator([WebGraph(np.zeros((0, 3)))]), steps=2)


def test_reference_open_piece_and_fixed_count():
    spec = CurveSpec("reference", ["t_end=10"])
    curve = spec.build(n_samples=1024)
    assert not curve.closed
    web, rep = assemble(spec, orb_piece(), steps=30)
    plan = plan_assembly(spec, orb_piece(), steps=30)
    assert rep.pieces == 30 and abs(plan.s[-1] - rep.curve_length) < 1e-6  # ends to ends
    check_invariants(web, plan, rep.tol)


# ---------------------------------------------------------------------- CLI
def run_cli(args: list[str]) -> int:
    from araneus.cli import main

    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_assemble(tmp_path, capsys):
    from araneus.io import read_web, write_web

    for i in range(2):
        write_web(orb_piece(seed=i), tmp_path / f"p{i}.json")
    p0, p1, out = str(tmp_path / "p0.json"), str(tmp_path / "p1.json"), tmp_path / "tower.json"
    args = ["assemble", "--curve", "helix", "--set", "radius=20", "--set", "pitch=60"]
    # a shell glob after --piece expands to extra positional files
    assert run_cli(args + ["--steps", "10", "--piece", p0, p1, "--out", str(out)]) == 0
    web = read_web(out)
    assert web.n_components == 1 and set(np.unique(web.node_attrs["piece"])) == set(range(10))
    assert "10 pieces" in capsys.readouterr().out

    pts = tmp_path / "pts.csv"
    pts.write_text("x,y,z\n0,0,0\n20,5,0\n40,0,10\n")
    spline = ["assemble", "--curve", "spline", "--points", str(pts), "--piece", p0]
    assert (
        run_cli(spline + ["--upright", "--overlap", "0.3", "--out", str(tmp_path / "s.json")]) == 0
    )
    assert read_web(tmp_path / "s.json").n_components == 1

    bad = ["assemble", "--set", "radus=2", "--steps", "3", "--piece", p0]
    assert run_cli(bad + ["--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "radus" in err and "valid: pitch, radius, turns" in err
    assert not (tmp_path / "x.json").exists()
    assert (
        run_cli(["assemble", "--steps", "0", "--piece", p0, "--out", str(tmp_path / "y.json")]) == 2
    )
    assert "steps must be" in capsys.readouterr().err
    assert run_cli(["assemble", "--steps", "3", "--out", str(tmp_path / "z.json")]) == 2
    assert "--piece" in capsys.readouterr().err
    nomodel = ["assemble", "--steps", "3", "--model", str(tmp_path / "runs" / "none")]
    assert run_cli(nomodel + ["--out", str(tmp_path / "m.json")]) == 2
    assert "model.json" in capsys.readouterr().err


def test_cli_preview(tmp_path):
    from araneus.io import write_web

    write_web(orb_piece(3, 8), tmp_path / "p.json")
    png = tmp_path / "tower.png"
    args = [
        "assemble",
        "--curve",
        "circle",
        "--set",
        "radius=8",
        "--piece",
        str(tmp_path / "p.json"),
    ]
    assert run_cli(args + ["--out", str(tmp_path / "c.json"), "--preview", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("value", ["1e308", "inf", "nan", "-2e6"])
def test_curve_parameters_out_of_range_are_config_errors(value):
    from araneus.assembly.families import CurveSpec
    from araneus.errors import ConfigError

    with pytest.raises(ConfigError, match="radius"):
        CurveSpec("helix", [f"radius={value}"])
