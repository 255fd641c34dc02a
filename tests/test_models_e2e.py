"""Tiny end-to-end runs: train -> generate -> evaluate, through the API and the CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from _models_synth import synth_dataset
from araneus.cli import main
from araneus.metrics import evaluate
from araneus.models import get_model, load_model
from araneus.models.train import TrainConfig


@pytest.fixture(scope="module")
def data():
    return synth_dataset(64, seed=1, K=4, L=24)


@pytest.mark.parametrize(
    "name,settings",
    [
        ("sparse", {"width": 32, "depth": 2, "heads": 4}),
        ("discrete", {"width": 32, "depth": 1, "heads": 4, "edge_width": 8}),
    ],
)
def test_train_generate_evaluate(name, settings, data):
    model = get_model(name)(**settings)
    res = model.fit(data, TrainConfig(steps=60, batch_size=16, lr=3e-3, warmup=5, progress=False))
    first, last = np.mean(res.losses[:10]), np.mean(res.losses[-10:])
    assert last < 0.85 * first, (first, last)
    test = data.subset("test")
    conds = [dict(zip(test.feature_names, f)) for f in test.features[:8]]
    webs = model.sample(conds, len(conds), seed=0, steps=8, guidance=1.5)
    rep = evaluate(webs, test.to_webs(), K=model.max_degree)
    assert rep["vun"]["valid"] == 1.0
    assert rep["fidelity"] is not None
    assert all(w.n_nodes >= 2 and w.degrees.max() <= model.max_degree for w in webs)


def _cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_train_resume_generate(data, tmp_path, capsys):
    path = tmp_path / "d.npz"
    data.save(path)
    run = tmp_path / "run"
    common = ["train", "--model", "sparse", "--data", str(path), "--out", str(run)]
    common += ["--batch-size", "8", "--no-progress", "--set", "width=16", "--set", "depth=1"]
    assert _cli(common + ["--steps", "3"]) == 0
    assert _cli(common + ["--steps", "5", "--resume"]) == 0
    assert load_model(run).train_info["step"] == 5
    out = tmp_path / "gen"
    args = ["generate", str(run), "-c", "num_nodes=10", "-c", "mean_degree=3", "--n", "3"]
    assert _cli(args + ["--steps", "3", "--guidance", "2", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "features.csv")))
    assert len(rows) == 3 and rows[0]["requested_num_nodes"] == "10"
    assert rows[0]["requested_mean_edge_length"] == ""
    assert float(rows[0]["achieved_num_nodes"]) <= 10
    assert all((out / r["file"]).is_file() for r in rows)
    loose = tmp_path / "loose"
    assert _cli(args + ["--steps", "3", "--set", "exact=false", "--out", str(loose)]) == 0
    capsys.readouterr()
    assert _cli(args + ["--set", "width=8", "--out", str(loose)]) == 2
    assert "cannot be set at sampling time" in capsys.readouterr().err
    ends = tmp_path / "ends"
    assert _cli(args + ["--steps", "3", "--set", "leaf_fraction=1", "--out", str(ends)]) == 0
    assert _cli(args + ["--set", "leaf_fraction=-1", "--out", str(tmp_path / "x")]) == 2
    assert "applies only when training" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert _cli(["generate", str(run), "-c", "num_nodes", "--out", str(out)]) == 2
    assert "--condition expects name=value" in capsys.readouterr().err
    assert _cli(["train", "--model", "nope", "--data", str(path), "--out", str(run)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
