"""Mechanical descriptors: closed-form cases, the general mechanics as reference, the
batched prestress and load-bearing rule against the originals, invariances, bad input."""

import numpy as np
import pytest

from araneus.errors import InputError
from araneus.mechanics import batched
from araneus.mechanics.attachment import Union, thread_imbalance
from araneus.mechanics.attachment import piece_tests as _tests
from araneus.mechanics.descriptors import (
    MECHANICAL_FEATURES,
    _union_law,
    descriptor_reference,
    mechanical_descriptors,
)
from araneus.mechanics.materials import DRAGLINE, PLA, VISCID
from araneus.mechanics.prestress import PRETENSION_FRACTION, compute_prestress, load_bearing_edges
from araneus.mechanics.virtual import linear_stiffness
from araneus.web import WebGraph


def chain(points) -> WebGraph:
    p = np.asarray(points, float)
    return WebGraph(p, np.stack([np.arange(len(p) - 1), np.arange(1, len(p))], 1))


@pytest.fixture(scope="module")
def pieces():
    """Samples of the default dataset (scan-like, 16-64 nodes)."""
    from araneus.dataset import default_dataset

    ds = default_dataset(n=60, seed=3)
    return [ds[i] for i in range(0, 60, 4)]


def test_straight_silk_thread_closed_form():
    # 2 loose ends = the attachment points; tension along the thread: E1 A / L0 (linear
    # regime at 3% of the breaking force); point load at the middle node: 2 T / a
    length, n = 10.0, 11
    web = chain(np.c_[np.linspace(0, length, n), np.zeros(n), np.zeros(n)])
    d = mechanical_descriptors([web], "silk")[0]
    area = np.pi * 0.004**2 / 4
    mass = DRAGLINE.density * area * length * 1e-6
    tension = PRETENSION_FRACTION * DRAGLINE.sigma_f * area
    eps0 = tension / area / DRAGLINE.E1
    assert d[0] == pytest.approx(DRAGLINE.E1 * area / (length / (1 + eps0)) / mass, rel=1e-9)
    assert d[1] == 0.0 and d[2] == 0.0  # flat along y and z
    # transverse (geometric) stiffness is ~300x below the axial one, so the 1e-12 diagonal
    # floor of tangent_stiffness (relative to the largest, axial, entry) shows at ~1e-9
    assert d[3] == pytest.approx(2 * tension / (length / 2) / mass, rel=1e-8)


def test_pla_bar_and_clamped_beam_closed_form():
    # printed struts clamped at both ends (all DOFs): EA / L along the bar, and the centre
    # load of a clamped-clamped beam 192 E I / L^3 (exact for frame elements)
    length, n, dia = 40.0, 9, 0.8
    web = chain(np.c_[np.linspace(0, length, n), np.zeros(n), np.zeros(n)])
    d = mechanical_descriptors([web], "pla")[0]
    area, inertia = np.pi * dia**2 / 4, np.pi * dia**4 / 64
    mass = PLA.density * area * length * 1e-6
    assert d[0] == pytest.approx(PLA.E * area / length / mass, rel=1e-9)
    assert d[3] == pytest.approx(192 * PLA.E * inertia / length**3 / mass, rel=1e-7)


def test_pretensioned_star_point_stiffness():
    # N threads of length R from a hub to held ends, hub pulled out of plane: N T / R
    n_arms, radius = 7, 5.0
    ang = 2 * np.pi * np.arange(n_arms) / n_arms
    pos = np.vstack(
        [[0, 0, 0], np.c_[radius * np.cos(ang), radius * np.sin(ang), np.zeros(n_arms)]]
    )
    web = WebGraph(pos, np.stack([np.zeros(n_arms, int), np.arange(1, n_arms + 1)], 1))
    d = mechanical_descriptors([web], "dragline")[0]
    area = np.pi * 0.004**2 / 4
    tension = PRETENSION_FRACTION * DRAGLINE.sigma_f * area
    mass = DRAGLINE.density * area * radius * n_arms * 1e-6
    assert d[3] == pytest.approx(n_arms * tension / radius / mass, rel=1e-8)  # floor, as above


def test_two_attachment_points_equal_the_grip_test_of_linear_stiffness():
    # a zig-zag thread whose ends are the x-extremes (no turn over 60 degrees): the
    # descriptor's tension-x is the lead's tension test between grips at its ends
    x = np.linspace(0, 30, 16)
    web = chain(np.c_[x, 0.6 * np.sin(x), 0.3 * np.cos(1.3 * x)])
    held = Union.from_webs([web], "pla", None)
    law, density = _union_law(held, "pla")
    assert np.flatnonzero(_tests(held, density).held).tolist() == [0, 15]
    for mat in ("pla", "silk"):
        d = mechanical_descriptors([web], mat)[0]
        k, mass = linear_stiffness(web, "tension-x", mat)
        assert d[0] == pytest.approx(k / mass, rel=1e-9 if mat == "pla" else 1e-6)


@pytest.mark.parametrize("material", ["silk", "pla"])
def test_batched_equals_general_mechanics(pieces, material):
    d = mechanical_descriptors(pieces, material, batch_size=5)
    assert np.isfinite(d).all() and (d > 0).all()
    for web, row in zip(pieces, d):
        if material == "silk":  # the same prestress, through the general code
            u = Union.from_webs([web], "silk", None)
            law, density = _union_law(u, "silk")
            ps = batched.batch_prestress(u.pos, u.edges, _tests(u, density).held,
                                         u.node_piece, 1, law, u.diameter)  # fmt: skip
            ref = descriptor_reference(web, "silk", prestress=ps)
        else:
            ref = descriptor_reference(web, "pla")
        np.testing.assert_allclose(row, ref, rtol=1e-9)


def test_batched_prestress_close_to_compute_prestress(pieces):
    # same steps; the batch solves the Gauss-Newton step exactly instead of by 50 LSQR
    # iterations, which moves the result by far less than 1e-3
    d = mechanical_descriptors(pieces, "silk")
    for web, row in zip(pieces, d):
        np.testing.assert_allclose(row, descriptor_reference(web, "silk"), rtol=1e-3)
    u = Union.from_webs(pieces, "silk", None)
    law, density = _union_law(u, "silk")
    t = _tests(u, density)
    ps = batched.batch_prestress(u.pos, u.edges, t.held, u.node_piece, u.n, law, u.diameter)
    start = 0
    for web in pieces:
        sl = slice(start, start + web.n_nodes)
        ref = compute_prestress(web.pos, web.edges, np.flatnonzero(t.held[sl]), DRAGLINE, 0.004)
        span = np.ptp(web.pos, axis=0).max()
        assert np.abs(ref.pos - ps.pos[sl]).max() < 1e-3 * span
        start += web.n_nodes


def _blocks_with_ground(edges, n, held):
    """Oracle: threads in a biconnected block (networkx) that holds the ground node."""
    import networkx as nx

    g = nx.Graph()
    g.add_edges_from(edges.tolist())
    g.add_edges_from((n, int(h)) for h in held)
    used = set()
    for block in nx.biconnected_component_edges(g):
        block = list(block)
        if any(n in e for e in block):
            used.update(frozenset(e) for e in block if n not in e)
    return np.array([frozenset(map(int, e)) in used for e in edges], bool)


def test_load_bearing_matches_biconnected_blocks():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(3, 30))
        e = rng.integers(0, n, (int(rng.integers(n - 2, 2 * n)), 2))
        e = np.unique(np.sort(e[e[:, 0] != e[:, 1]], 1), axis=0)
        held = rng.choice(n, int(rng.integers(0, min(n, 5))), replace=False)
        if len(e):
            assert np.array_equal(load_bearing_edges(e, n, held), _blocks_with_ground(e, n, held))


def test_closed_form_strain_matches_bisection():
    rng = np.random.default_rng(1)
    for law in (DRAGLINE, VISCID):
        s = rng.uniform(0, 0.999 * law.sigma_f, 2000)
        np.testing.assert_allclose(batched.strain_at(law, s), law.strain_at(s), atol=1e-14)


def test_thread_imbalance():
    pos = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [-1, 0, 0], [0, 0, 1]], float)
    # node 0: threads to 1 and 3 (straight) -> 0; add node 2 (90 degrees) -> still 0
    assert thread_imbalance(pos, np.array([[0, 1], [0, 3]]))[0] == pytest.approx(0, abs=1e-12)
    # two threads at 90 degrees: cos(45 deg); a loose end: 1
    imb = thread_imbalance(pos, np.array([[0, 1], [0, 4]]))
    assert imb[0] == pytest.approx(np.cos(np.pi / 4)) and imb[1] == 1.0
    # three threads within one octant: the min-norm point of their hull (the centroid)
    imb = thread_imbalance(pos, np.array([[0, 1], [0, 4], [0, 2]]))
    u = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0] / np.sqrt(2)])
    ref = min(np.linalg.norm(w @ u) for w in _simplex_grid())
    assert imb[0] == pytest.approx(ref, abs=2e-3)


def _simplex_grid(k=200):
    a, b = np.meshgrid(np.linspace(0, 1, k), np.linspace(0, 1, k))
    ok = a + b <= 1
    return np.c_[a[ok], b[ok], 1 - a[ok] - b[ok]]


def test_rotation_translation_and_scale(pieces):
    web = pieces[0]
    d = mechanical_descriptors([web], "silk")[0]
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])  # x -> y
    turned = web.replace(pos=web.pos @ rot.T + 7.0)
    dr = mechanical_descriptors([turned], "silk")[0]
    np.testing.assert_allclose(dr[[1, 0, 2, 3]], d, rtol=1e-6)
    # silk trusses with a breaking-force pretension: stiffness per gram scales as 1/s^2
    big = web.replace(pos=web.pos * 3.0)
    np.testing.assert_allclose(mechanical_descriptors([big], "silk")[0], d / 9, rtol=1e-6)


def test_bad_input_and_undefined():
    web = chain([[0, 0, 0], [1, 0, 0], [2, 1, 0]])
    with pytest.raises(InputError, match="unknown material"):
        mechanical_descriptors([web], "steel")
    with pytest.raises(InputError, match="pretension"):
        mechanical_descriptors([web], "silk", pretension="none")
    with pytest.raises(InputError, match="strut"):
        mechanical_descriptors([web], "pla", strut=-1)
    with pytest.raises(InputError, match="WebGraph"):
        mechanical_descriptors([np.zeros((3, 3))], "pla")
    with pytest.raises(InputError, match="batch_size"):
        mechanical_descriptors([web], "pla", batch_size=0)
    assert mechanical_descriptors([], "silk").shape == (0, 4)
    empty = WebGraph(np.zeros((3, 3)), np.zeros((0, 2), int))
    assert np.isnan(mechanical_descriptors([empty, web], "silk")[0]).all()
    # a 2-node thread: both nodes held, nothing to load
    d = mechanical_descriptors([chain([[0, 0, 0], [1, 0, 0]])], "silk")[0]
    assert np.isfinite(d[0]) and np.isnan(d[3])
    assert len(MECHANICAL_FEATURES) == 4


def test_segment_reductions_match_numpy():
    from araneus.mechanics.segments import seg_median, seg_percentile

    rng = np.random.default_rng(2)
    for _ in range(200):
        counts = rng.integers(0, 9, 4)
        seg = np.repeat(np.arange(4), counts)
        v = rng.normal(size=len(seg))
        q = float(rng.uniform(0, 100))
        got_p, got_m = seg_percentile(v, seg, 4, q), seg_median(v, seg, 4)
        for k in range(4):
            if counts[k]:
                assert got_p[k] == np.percentile(v[seg == k], q)
                assert got_m[k] == np.median(v[seg == k])
            else:
                assert np.isnan(got_p[k]) and np.isnan(got_m[k])
