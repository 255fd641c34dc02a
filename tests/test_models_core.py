"""Shared model machinery: conditioning, networks and masks, registry, sampling, checkpoints,
exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from _models_synth import synth_dataset
from araneus.errors import ConfigError, FormatError, InputError, ModelError
from araneus.models import available_models, get_model, load_model
from araneus.models.conditioning import (
    ConditionEmbedding,
    FeatureScaler,
    parse_conditions,
    training_presence,
)
from araneus.models.nets import GraphTransformer, NodeTransformer
from araneus.train import TrainConfig, lr_factor

NAMES = ("a", "b", "c")
TINY = {
    "sparse": {"width": 32, "depth": 1, "heads": 2},
    "discrete": {"width": 32, "depth": 1, "heads": 2, "edge_width": 8},
}


@pytest.fixture(scope="module")
def data():
    return synth_dataset(48, seed=0, K=4, L=24)


def _cfg(**kw):
    base = dict(steps=8, batch_size=8, lr=2e-3, warmup=2, progress=False, ckpt_every=4)
    base.update(kw)
    return TrainConfig(**base)


def test_parse_conditions_and_errors():
    v, p = parse_conditions({"a": 1.0, "c": 3}, 2, NAMES)
    assert v.shape == (2, 3) and p.tolist() == [[True, False, True]] * 2
    v, p = parse_conditions([{"a": 1}, {}], 2, NAMES)
    assert p.tolist() == [[True, False, False], [False, False, False]]
    with pytest.raises(InputError, match="unknown condition 'z'"):
        parse_conditions({"z": 1}, 1, NAMES)
    with pytest.raises(InputError, match="not finite"):
        parse_conditions({"a": float("nan")}, 1, NAMES)
    with pytest.raises(InputError, match="2 condition dicts for n=3"):
        parse_conditions([{}, {}], 3, NAMES)
    with pytest.raises(InputError, match="positive integer"):
        parse_conditions({}, 0, NAMES)


def test_scaler_round_trip():
    f = np.array([[0.0, 10.0, 5.0], [2.0, 20.0, 5.0]])
    pos = np.ones((2, 3, 3))
    sc = FeatureScaler.fit(NAMES, f, pos, np.ones((2, 3), bool))
    assert np.allclose(sc.normalise(f)[:, :2], [[-1, -1], [1, 1]])
    assert np.allclose(sc.denormalise(sc.normalise(f)), f)
    assert FeatureScaler.from_dict(sc.to_dict()).to_dict() == sc.to_dict()
    with pytest.raises(InputError):
        FeatureScaler.fit(NAMES, f * np.nan, pos, np.ones((2, 3), bool))


def test_training_presence_hides_and_drops():
    g = torch.Generator().manual_seed(0)
    p = training_presence(20000, 7, 0.3, 0.1, g)
    assert 1 - p.float().mean().item() == pytest.approx(1 - 0.7 * 0.9, abs=0.01)
    assert (~p.any(1)).float().mean().item() >= 0.1 - 0.01  # whole-condition dropout
    assert not training_presence(50, 7, 0.0, 1.0, g).any()  # the unconditional branch
    assert training_presence(50, 7, 0.0, 0.0, g).all()


def test_condition_embedding_ignores_hidden_values():
    emb = ConditionEmbedding(3, 16)
    v = torch.randn(4, 3)
    p = torch.tensor([[1, 0, 1]] * 4, dtype=torch.bool)
    v2 = v.clone()
    v2[:, 1] = 99.0
    assert torch.allclose(emb(v, p), emb(v2, p))
    none = torch.zeros(4, 3, dtype=torch.bool)
    assert torch.allclose(emb(v, none), emb(torch.zeros(4, 3), none))


def _padding_case(L=10, n=6):
    torch.manual_seed(0)
    mask = torch.zeros(2, L, dtype=torch.bool)
    mask[:, :n] = True
    mask[1, n - 1] = False
    return mask


def test_node_transformer_padding_never_affects_real_nodes():
    net = NodeTransformer(7, 7, 10, 32, 2, 4, 3)
    for p in net.parameters():  # break the zero-init so every path is live
        torch.nn.init.normal_(p, std=0.2)
    mask = _padding_case()
    x = torch.randn(2, 10, 7)
    args = (torch.randn(2), torch.randn(2, 3), torch.ones(2, 3, dtype=torch.bool))
    out = net(x, mask, *args)
    x2 = x.clone()
    x2[~mask] = torch.randn(int((~mask).sum()), 7) * 100
    out2 = net(x2, mask, *args)
    assert out.shape == (2, 10, 7)
    assert torch.allclose(out[mask], out2[mask], atol=1e-5)
    assert not torch.allclose(out[~mask], out2[~mask])


def test_graph_transformer_padding_never_affects_real_nodes():
    net = GraphTransformer(3, 3, 3, 2, 10, 32, 8, 2, 4, 3)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.2)
    mask = _padding_case()
    x, e = torch.randn(2, 10, 3), torch.randn(2, 10, 10, 3)
    args = (torch.randn(2), torch.rand(2), torch.randn(2, 3), torch.ones(2, 3, dtype=torch.bool))
    xo, eo = net(x, e, mask, *args)
    x2, e2 = x.clone(), e.clone()
    x2[~mask] = 50.0
    pad = ~(mask[:, :, None] & mask[:, None, :])
    e2[pad] = -30.0
    xo2, eo2 = net(x2, e2, mask, *args)
    assert xo.shape == (2, 10, 3) and eo.shape == (2, 10, 10, 2)
    real = ~pad
    assert torch.allclose(xo[mask], xo2[mask], atol=1e-4)
    assert torch.allclose(eo[real], eo2[real], atol=1e-4)
    assert torch.allclose(eo, eo.transpose(1, 2))  # symmetric edge predictions


def test_registry_and_config_errors():
    assert {"sparse", "discrete"} <= set(available_models())
    with pytest.raises(InputError, match="unknown model 'nope'"):
        get_model("nope")
    with pytest.raises(ConfigError, match="unknown sparse model parameter"):
        get_model("sparse")(bogus=1)
    with pytest.raises(ConfigError):
        get_model("sparse")(width=30, heads=4)
    with pytest.raises(ConfigError):
        TrainConfig(steps=0)
    with pytest.raises(ModelError, match="not trained"):
        get_model("sparse")().sample({}, 2)
    assert lr_factor(0, TrainConfig(steps=100, warmup=10)) == pytest.approx(0.1)
    assert lr_factor(99, TrainConfig(steps=100, warmup=10)) == pytest.approx(0.05, abs=0.01)


@pytest.mark.parametrize("name", ["sparse", "discrete"])
def test_sampling_seeded_guided_and_round_trip(name, data, tmp_path):
    model = get_model(name)(**TINY[name])
    model.fit(data, _cfg(out=str(tmp_path / "run")))
    cond = {"num_nodes": 12, "mean_edge_length": 1.5}
    a = model.sample(cond, 3, seed=5, steps=4, guidance=2.0)
    b = model.sample(cond, 3, seed=5, steps=4, guidance=2.0)
    c = model.sample(cond, 3, seed=6, steps=4, guidance=2.0)
    assert all(x.equals(y) for x, y in zip(a, b))
    assert not all(x.equals(y) for x, y in zip(a, c))
    assert all(w.n_nodes <= 12 and w.meta["requested"] == cond for w in a)
    u = model.sample({}, 2, seed=5, steps=3, guidance=0.0)  # the unconditional branch
    assert len(u) == 2
    loaded = load_model(tmp_path / "run")
    assert type(loaded) is type(model)
    d = loaded.sample(cond, 3, seed=5, steps=4, guidance=2.0)
    assert all(x.equals(y, atol=1e-6) for x, y in zip(a, d))
    with pytest.raises(InputError, match="guidance"):
        model.sample(cond, 2, guidance=float("nan"))
    with pytest.raises(InputError, match="steps"):
        model.sample(cond, 2, steps=0)


def test_checkpoint_errors(tmp_path, data):
    with pytest.raises(FormatError, match="missing model.json"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text("{broken")
    with pytest.raises(FormatError, match="cannot read checkpoint JSON"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(FormatError, match="not an araneus model"):
        load_model(tmp_path)
    m = get_model("sparse")(**TINY["sparse"])
    m.fit(data, _cfg(steps=2, out=str(tmp_path / "r")))
    (tmp_path / "r" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(FormatError, match="cannot read weights"):
        load_model(tmp_path / "r")
    with pytest.raises(FormatError, match="cannot resume"):
        m.fit(data, _cfg(out=str(tmp_path / "empty"), resume=True))


@pytest.mark.parametrize("name", ["sparse", "discrete"])
def test_exact_resume(name, data, tmp_path):
    full = get_model(name)(**TINY[name])
    ra = full.fit(data, _cfg(out=str(tmp_path / "a")))
    part = get_model(name)(**TINY[name])
    part.fit(data, _cfg(out=str(tmp_path / "b"), stop_after=4))
    resumed = get_model(name)(**TINY[name])
    rb = resumed.fit(data, _cfg(out=str(tmp_path / "b"), resume=True))
    assert rb.steps == ra.steps == 8
    assert np.allclose(ra.losses, rb.losses, rtol=1e-6, atol=1e-7)
    sa, sb = full.net.state_dict(), resumed.net.state_dict()
    assert all(torch.allclose(sa[k], sb[k], atol=1e-6) for k in sa)


def test_scale_free_positions_round_trip_and_scale_prior(data):
    from araneus.models.base import mean_edge_lengths

    train = data.subset("train")
    pos, nbrs = np.asarray(train.pos), np.asarray(train.nbrs)
    rho = mean_edge_lengths(pos, nbrs)
    # sparse: encoding a sample and decoding it at its own scale gives it back
    m = get_model("sparse")(width=32, depth=1, heads=2)
    m.setup(data)
    assert m.config.scale_free and m.config.position_unit > 0
    enc = m.encode(train)["x"].numpy()[:4]
    webs, stats = m.decode(enc, train.mask.sum(1)[:4], rho[:4] * m.config.position_unit)
    for s, w in enumerate(webs):
        n = int(train.mask[s].sum())
        assert np.allclose(w.pos, pos[s, :n], atol=1e-4 * rho[s] * m.config.position_unit)
    # the prior: a requested mean edge length is the scale; else a training sample's
    prior = m.prior
    names = m.feature_names
    i = names.index("mean_edge_length")
    vals = np.zeros((2, len(names)))
    vals[0, i] = 7.5
    present = np.zeros_like(vals, dtype=bool)
    present[0, i] = True
    counts, lengths = prior.draw(
        m.scaler.normalise(vals), present, vals, m.max_nodes, np.random.default_rng(0)
    )
    assert lengths[0] == 7.5 and np.any(np.isclose(lengths[1], prior.lengths))
    assert np.allclose(prior.lengths, rho)
