"""Design for mechanics: targets, the generate-evaluate-select loop with real (tiny) models,
FE verification of every candidate, the written outputs, the CLI, the point-test curve."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from araneus.cli import app
from araneus.dataset import WebDataset, default_dataset
from araneus.design import check_targets, design, design_data, parse_targets, retrieve
from araneus.design.output import point_test, write_design
from araneus.errors import InputError
from araneus.io import read_web
from araneus.mechanics.descriptors import MECHANICAL_FEATURES, mechanical_descriptors

TINY = {"width": 32, "depth": 1, "heads": 2}


def _train(data, steps=15):
    import torch

    from araneus.models import get_model
    from araneus.models.train import TrainConfig

    torch.manual_seed(0)
    m = get_model("sparse")(**TINY)
    m.fit(data, TrainConfig(steps=steps, batch_size=8, progress=False))
    return m


@pytest.fixture(scope="module")
def silk_data():
    return default_dataset(n=120, seed=2, mechanics="silk")


@pytest.fixture(scope="module")
def conditioned(silk_data):
    return _train(silk_data)


@pytest.fixture(scope="module")
def geometric(silk_data):
    """A model trained without the descriptors (like the weights shipped before them)."""
    geo = [i for i, n in enumerate(silk_data.feature_names) if n not in MECHANICAL_FEATURES]
    plain = WebDataset(silk_data.pos, silk_data.nbrs, silk_data.mask,
                       silk_data.features[:, geo], [silk_data.feature_names[i] for i in geo],
                       silk_data.split)  # fmt: skip
    return _train(plain)


def _target(ds, name="stiffness_z_per_mass", split=2):
    i = int(np.flatnonzero(ds.split == split)[0])
    return {name: float(ds.features[i, ds.feature_names.index(name)])}


def test_targets_checked():
    assert parse_targets(["stiffness_z_per_mass=5e2"]) == {"stiffness_z_per_mass": 500.0}
    for bad, msg in ((["stiffness_q=1"], "unknown target"), (["stiffness_z_per_mass"], "NAME=VALUE"),
                     (["stiffness_z_per_mass=abc"], "not a number"),
                     (["stiffness_z_per_mass=-3"], "positive"),
                     (["stiffness_z_per_mass=1", "stiffness_z_per_mass=2"], "twice")):  # fmt: skip
        with pytest.raises(InputError, match=msg):
            parse_targets(bad)
    with pytest.raises(InputError, match="at least one target"):
        check_targets({})


def test_conditioned_model_designs_are_verified_and_ranked(silk_data, conditioned):
    tgt = _target(silk_data)
    res = design(tgt, "silk", conditioned, n=6, rounds=2, seed=0)
    assert res.conditioned and len(res.candidates) == 12
    assert all(c.conditions["stiffness_z_per_mass"] > 0 for c in res.candidates)
    # every achieved value is the FE analysis of the candidate web itself
    webs = [c.web for c in res.candidates]
    np.testing.assert_allclose(np.array([c.achieved for c in res.candidates]),
                               mechanical_descriptors(webs, "silk"), rtol=1e-12)  # fmt: skip
    errs = [res.log_error(int(i)) for i in res.order]
    assert errs == sorted(errs)
    best = int(res.order[0])
    assert res.error(best) == max(abs(v) for v in res.relative_errors(best).values())
    assert res.rounds[1]["best_error_so_far"] <= res.rounds[0]["best_error_so_far"]
    assert {c.how for c in res.candidates} == {"model", "calibrated", "variation"}


def test_unconditioned_model_uses_retrieved_geometry(silk_data, geometric):
    tgt = _target(silk_data, "point_stiffness_per_mass")
    res = design(tgt, "silk", geometric, n=4, rounds=2, data=silk_data, seed=1)
    assert not res.conditioned and "not conditioned" in res.notes[0]
    rows = retrieve(silk_data, tgt, 4)
    for r, c in zip(rows, res.candidates[:4]):
        assert c.how == "retrieved"
        assert c.conditions["num_nodes"] == silk_data.features[r, 4]
    assert "point_stiffness_per_mass" in res.rounds[1]["calibration_offset"]
    with pytest.raises(InputError, match="--mechanics"):
        design(tgt, "silk", geometric, n=2, rounds=1, data=default_dataset(n=40, seed=1))


def test_written_outputs(tmp_path, silk_data, conditioned):
    tgt = {**_target(silk_data), **_target(silk_data, "stiffness_x_per_mass")}
    res = design(tgt, "silk", conditioned, n=4, rounds=1, seed=3)
    paths = write_design(res, tmp_path / "out", curves=True, page=2)
    lines = paths["csv"].read_text().splitlines()
    assert lines[0] == "rank,file,target,requested,achieved,relative_error"
    assert len(lines) == 1 + 4 * 2
    ranks = [int(x.split(",")[0]) for x in lines[1:]]
    assert ranks == sorted(ranks)
    for line in lines[1:]:
        rank, file, name, req, ach, rel = line.split(",")
        web = read_web(tmp_path / "out" / file)
        val = mechanical_descriptors([web], "silk")[0][MECHANICAL_FEATURES.index(name)]
        assert float(ach) == pytest.approx(val, rel=1e-5)
        assert float(rel) == pytest.approx(float(ach) / float(req) - 1, rel=1e-4, abs=1e-6)
    summary = json.loads(paths["json"].read_text())
    assert summary["targets"] == tgt and len(summary["designs"]) == 4
    html = paths["html"].read_text()
    assert 'data-plots-expected="3"' in html  # two 3-D views and the curves


def test_point_test_curve_starts_at_the_descriptor(silk_data):
    web = silk_data[3]
    for mat in ("silk", "pla"):
        res = point_test(web, mat)
        k = mechanical_descriptors([web], mat)[0, 3]
        mass = res.stiffness / k
        from araneus.mechanics.attachment import Union, piece_tests
        from araneus.mechanics.descriptors import _union_law

        u = Union.from_webs([web], mat, None)
        assert mass == pytest.approx(piece_tests(u, _union_law(u, mat)[1]).mass[0], rel=1e-9)
        assert res.force.max() > 0 and len(res.force) > 3


def test_design_data_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ARANEUS_CACHE", str(tmp_path))
    ds = design_data("pla", n=40, seed=5)
    files = list(tmp_path.glob("design_pla_*.npz"))
    assert len(files) == 1 and set(MECHANICAL_FEATURES) <= set(ds.feature_names)
    again = design_data("pla", n=40, seed=5)
    np.testing.assert_array_equal(again.features, ds.features)
    # a copy made from other source webs (e.g. before a builder change) is rebuilt
    assert ds.meta["default"]["sources"]
    part = again.subset(np.arange(10))
    part.meta.update(again.meta)
    part.save(files[0])
    assert len(design_data("pla", n=40, seed=5).features) == 10  # same sources: kept
    part.meta["default"] = {**ds.meta["default"], "sources": "0" * 16}
    part.save(files[0])
    fresh = design_data("pla", n=40, seed=5)
    np.testing.assert_array_equal(fresh.features, ds.features)
    assert design_data("pla", n=40, seed=5).meta["default"]["sources"] == ds.meta["default"]["sources"]


def test_cli(tmp_path, silk_data, conditioned):
    ckpt = tmp_path / "model"
    conditioned.save(ckpt)
    data = tmp_path / "d.npz"
    silk_data.save(data)
    run = CliRunner().invoke(app, [
        "design", "--target", "stiffness_y_per_mass=300", "--model", str(ckpt), "--n", "3",
        "--rounds", "1", "--no-curves", "--data", str(data), "--out", str(tmp_path / "o"),
    ])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert (tmp_path / "o" / "designs.csv").is_file() and "best design" in run.output
    run = CliRunner().invoke(app, ["descriptors", str(tmp_path / "o" / "design_001.json")])
    assert run.exit_code == 0 and run.output.splitlines()[0].startswith("file,stiffness_x")
    from araneus.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["design", "--target", "stiffness_q=1", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2


def test_graded_tower(tmp_path, silk_data, conditioned):
    from araneus.design.tower import design_tower, graded_values, write_tower

    np.testing.assert_allclose(graded_values(10, 1000, 3), [10, 100, 1000])
    with pytest.raises(InputError, match="pieces"):
        graded_values(10, 100, 0)
    res = design_tower("stiffness_z_per_mass", 100.0, 2000.0, pieces=3, model=conditioned, n=3,
                       rounds=1, curve_settings=["radius=30"], seed=0)  # fmt: skip
    assert [r["placement"] for r in res.rows] == [0, 1, 2]
    assert res.rows[0]["requested"] == pytest.approx(100) and res.rows[2]["requested"] == 2000
    assert res.web.n_components == 1 and res.web.meta["design"]["pieces"] == res.rows
    # each piece's achieved value is its best candidate's FE value
    for r, run in zip(res.rows, res.designs):
        assert r["achieved"] == run.achieved(int(run.order[0]))["stiffness_z_per_mass"]
    paths = write_tower(res, tmp_path / "t", "stiffness_z_per_mass")
    assert paths["csv"].read_text().startswith("placement,requested,achieved,relative_error")
    assert read_web(paths["web"]).n_nodes == res.web.n_nodes


@pytest.mark.parametrize("name,kw", [
    ("sparse", TINY),
    ("discrete", {"width": 32, "edge_width": 8, "depth": 1, "heads": 2}),
    ("autoregressive", {"width": 32, "depth": 1, "heads": 2, "mixtures": 2}),
])  # fmt: skip
def test_models_take_descriptor_conditions(silk_data, name, kw):
    """No model code knows the descriptors: they are dataset features like any other,
    log-mapped, and any subset conditions sampling, with classifier-free guidance."""
    import torch

    from araneus.models import get_model
    from araneus.models.train import TrainConfig

    torch.manual_seed(0)
    m = get_model(name)(**kw)
    m.fit(silk_data, TrainConfig(steps=4, batch_size=8, progress=False))
    assert set(MECHANICAL_FEATURES) <= set(m.feature_names)
    assert all(m.scaler.log[m.feature_names.index(f)] for f in MECHANICAL_FEATURES)
    webs = m.sample([{"point_stiffness_per_mass": 50.0},
                     {"stiffness_x_per_mass": 900.0, "num_nodes": 20}], 2, guidance=2.0,
                    seed=0)  # fmt: skip
    assert len(webs) == 2 and webs[1].meta["requested"]["stiffness_x_per_mass"] == 900.0


def test_sizing_is_verified_and_never_worse(silk_data, conditioned):
    from araneus.design.stretch import fit_stretch, stretched

    tgt = {n: float(silk_data.features[5, silk_data.feature_names.index(n)])
           for n in MECHANICAL_FEATURES}  # fmt: skip
    res = design(tgt, "silk", conditioned, n=4, rounds=1, seed=2, size=True)
    sized = [i for i, c in enumerate(res.candidates) if c.how == "sized"]
    assert len(sized) == 4 and "post-hoc" in res.notes[-1]
    for i in sized:
        c = res.candidates[i]
        src = c.conditions["from_candidate"]
        assert res.candidates[src].how != "sized" and c.round == 1
        np.testing.assert_allclose(c.achieved, mechanical_descriptors([c.web], "silk")[0],
                                   rtol=1e-12)  # fmt: skip
        assert res.log_error(i) <= res.log_error(src) + 1e-12
    # a uniform stretch of pretensioned silk scales every descriptor by exp(-2 s) exactly
    web = silk_data[7]
    d0 = mechanical_descriptors([web], "silk")[0]
    d1 = mechanical_descriptors([stretched(web, np.full(3, 0.3))], "silk")[0]
    np.testing.assert_allclose(d1, d0 * np.exp(-0.6), rtol=1e-6)
    s, d = fit_stretch([web], d0[[2]] * 2.0, [2], "silk")
    assert abs(np.log(d[0, 2] / (2 * d0[2]))) < abs(np.log(0.5))


def test_guided_requests_stay_within_what_the_model_makes(silk_data, geometric):
    from araneus.design.proposals import feasible

    names = set(geometric.feature_names)
    wild = {"num_nodes": 64.06, "num_edges": 1e5, "mean_edge_length": 1.0, "mean_abs_dx": 5.0}
    wild = {k: v for k, v in wild.items() if k in names}
    with pytest.raises(InputError, match="outside what this"):
        geometric.sample([wild], 1, seed=0)
    ok = feasible(wild, geometric.condition_bounds(), geometric.max_degree)
    assert ok["num_nodes"] == 64.0 and len(geometric.sample([ok], 1, seed=0)) == 1
    if "mean_abs_dx" in ok:
        assert ok["mean_abs_dx"] == ok["mean_edge_length"]
    # the surrogate's guidance may move requests out of the data's range: still sampled
    tgt = _target(silk_data, "stiffness_x_per_mass")
    res = design(tgt, "silk", geometric, n=4, rounds=2, data=silk_data, seed=3, guide=True)
    assert len(res.candidates) == 8 and np.isfinite(res.error(int(res.order[0])))
