"""Shared model machinery: conditioning, networks and masks, registry, sampling, checkpoints,
exact resume."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from _models_synth import synth_dataset
from araneus.errors import ConfigError, FormatError, InputError, ModelError
from araneus.features import features_table
from araneus.models import available_models, get_model, load_model
from araneus.models.base import set_sampling
from araneus.models.conditioning import (
    ConditionEmbedding,
    FeatureScaler,
    parse_conditions,
    training_presence,
)
from araneus.models.nets import GraphTransformer, NodeTransformer
from araneus.models.sparse import encode_slots, pair_features
from araneus.models.train import TrainConfig, lr_factor

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


def test_scaler_log_map_resolves_orientation_shares():
    names = ["mean_edge_length", "mean_abs_dz", "num_nodes"]
    f = np.array([[1.0, 0.1, 16.0], [100.0, 90.0, 64.0], [1.0, 0.9, 40.0]])
    sc = FeatureScaler.fit(names, f, np.ones((3, 3, 3)), np.ones((3, 3), bool))
    assert sc.log.tolist() == [True, True, False]
    z = sc.normalise(f)
    assert np.allclose(z[:2], [[-1, -1, -1], [1, 1, 1]])
    # a small web's dz share (0.1 vs 0.9 of its length) spans most of the range, not 1%
    assert z[2, 1] - z[0, 1] > 0.5
    assert np.allclose(sc.denormalise(z), f)
    t = sc.denormalise_torch(torch.as_tensor(z, dtype=torch.float64))
    assert np.allclose(t.numpy(), f)
    assert np.isfinite(sc.normalise([[0.0, -1.0, 3.0]])).all()  # below the floor: clamped
    back = FeatureScaler.from_dict(sc.to_dict())
    assert back.log.tolist() == sc.log.tolist()
    old = {k: v for k, v in sc.to_dict().items() if k != "log"}  # checkpoints before the log map
    assert not FeatureScaler.from_dict(old).log.any()


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
    # with pair features: padded rows/columns of them change nothing either
    net = NodeTransformer(7, 7, 10, 32, 2, 4, 3, pair_features=2)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.2)
    pair = torch.rand(2, 10, 10, 2)
    pair2 = pair.clone()
    pad = ~(mask[:, :, None] & mask[:, None, :])
    pair2[pad] = 40.0
    out, out2 = net(x, mask, *args, pair), net(x2, mask, *args, pair2)
    assert torch.allclose(out[mask], out2[mask], atol=1e-5)
    assert not torch.allclose(out[mask], net(x, mask, *args)[mask])  # the bias acts


def test_pair_features_point_at_slot_neighbours_and_near_nodes():

    # path 0-1-2-3 plus 1-3, at unit spacing along x; node 3's slots: [2, 1] (nodes 1, 2)
    nbrs = np.array([[[1, -1], [0, 2], [1, 3], [2, 1]]])
    slots = encode_slots(nbrs, 2.0)
    pos = np.array([[[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]]], float)
    x = torch.as_tensor(np.concatenate([pos, slots], -1), dtype=torch.float32)
    f = pair_features(x, 2.0, 1.0)[0]
    assert f.shape == (4, 4, 2) and torch.allclose(f, f.transpose(0, 1))
    agree = f[..., 0] > 0.99
    off_diag = agree & ~torch.eye(4, dtype=torch.bool)
    assert off_diag.nonzero().tolist() == [[0, 1], [1, 0], [1, 2], [1, 3], [2, 1], [2, 3],
                                           [3, 1], [3, 2]]  # fmt: skip
    assert torch.allclose(f[0, 1, 1], torch.tensor(np.exp(-0.5), dtype=torch.float32), atol=1e-4)


def test_sparse_inputs_recover_noisy_tokens_and_flag_self_conditioning(data):
    m = get_model("sparse")(**TINY["sparse"])
    m.setup(data)
    c = m.config
    assert c.self_condition and c.pair_bias
    x = m.encode(data.subset("train"))["x"][:3]
    sigma = torch.full((3,), 1e-3)
    c_in = 1 / (sigma**2 + c.sigma_data**2).sqrt()
    tokens, pairs = m._inputs(x * c_in[:, None, None], sigma.log() / 4, None)
    ch = x.shape[-1]
    assert tokens.shape == (3, m.max_nodes, 2 * ch) and pairs.shape == (
        3,
        m.max_nodes,
        m.max_nodes,
        4,
    )
    assert torch.all(tokens[..., ch:] == 0) and torch.all(pairs[..., 2:] == 0)  # no estimate yet
    # the noisy-token features are those of x itself (sigma ~ 0), as are the estimate's
    length = 1 / c.position_unit
    assert torch.allclose(pairs[..., :2], pair_features(x, m._slot_unit, length), atol=1e-3)
    tokens, pairs = m._inputs(x * c_in[:, None, None], sigma.log() / 4, x)
    assert torch.equal(tokens[..., ch:], x)
    assert torch.allclose(pairs[..., 2:], pairs[..., :2], atol=1e-3)


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
    # constrained sampling rotates each web toward a requested orientation, never away
    flat = {"mean_edge_length": 1.5, "mean_abs_dz": 0.1}
    fitted = model.sample(flat, 3, seed=5, steps=4)
    set_sampling(model, ["fit_orientation=false"])
    plain = model.sample(flat, 3, seed=5, steps=4)
    assert all("orientation_fit_deg" in w.meta for w in fitted)
    assert not any("orientation_fit_deg" in w.meta for w in plain)
    dz = [abs(features_table([w])[0, 3] - 0.1) for w in fitted + plain]
    assert all(f <= p + 1e-9 for f, p in zip(dz[:3], dz[3:]))
    for sampler in ("ancestral", "dpmpp", "heun"):  # every sampler: seeded, valid webs
        model.config = dataclasses.replace(model.config, sampler=sampler)
        w1 = model.sample(cond, 2, seed=1, steps=3)
        assert all(x.equals(y) for x, y in zip(w1, model.sample(cond, 2, seed=1, steps=3)))
        assert all(w.n_nodes and w.n_components == 1 for w in w1)


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


def test_sparse_checkpoint_without_slots_setting_reads_as_signed(data, tmp_path):
    assert get_model("sparse")().config.slots == "backward"
    m = get_model("sparse")(**TINY["sparse"], slots="signed", pair_bias=False)
    m.fit(data, _cfg(steps=2, out=str(tmp_path / "r")))
    meta = json.loads((tmp_path / "r" / "model.json").read_text())
    del meta["config"]["slots"], meta["config"]["pair_bias"]  # written before the settings
    (tmp_path / "r" / "model.json").write_text(json.dumps(meta))
    old = load_model(tmp_path / "r")
    assert old.config.slots == "signed" and not old.config.pair_bias
    assert len(old.sample({"num_nodes": 12}, 2, seed=0, steps=2)) == 2
    m.save(tmp_path / "again")
    assert load_model(tmp_path / "again").config.slots == "signed"
    with pytest.raises(ConfigError, match="pair_bias needs"):
        get_model("sparse")(slots="signed")


def test_discrete_band_keeps_edges_within_the_canonical_bandwidth(data, tmp_path):
    from araneus.models.base import max_canonical_offset
    from araneus.models.discrete import _pair_mask

    pm = _pair_mask(torch.tensor([[True] * 5 + [False]]), band=2)[0]
    assert pm.nonzero().tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3], [2, 4], [3, 4]]
    m = get_model("discrete")(**TINY["discrete"], exact=False)
    m.fit(data, _cfg(steps=2, out=str(tmp_path / "r")))
    band = max_canonical_offset(data)
    assert m.config.band == band < data.L - 1 and 0 < m.config.edge_density < 0.5
    m.config = dataclasses.replace(m.config, band=2)
    raw = {}
    orig = m.decode

    def spy(x, adj, p_edge, *a, **k):
        raw["adj"], raw["p"] = adj, p_edge
        return orig(x, adj, p_edge, *a, **k)

    m.decode = spy
    m.sample({"num_nodes": 20}, 4, seed=0, steps=3)
    i, j = np.nonzero(np.triu(raw["adj"].any(0), 1))
    assert len(i) and (j - i).max() <= 2
    assert np.all(np.triu(raw["p"], 3) == 0)
    old = json.loads((tmp_path / "r" / "model.json").read_text())
    del old["config"]["band"]
    (tmp_path / "r" / "model.json").write_text(json.dumps(old))
    assert load_model(tmp_path / "r").config.band == 0  # older checkpoints: every pair


def _spy_adjacency(m) -> list:
    """Record (sampled adjacency, node counts) of every batch ``m`` decodes."""
    raw, orig = [], m.decode

    def spy(x, adj, p_edge, counts, *a, **k):
        raw.append((torch.as_tensor(adj), counts))
        return orig(x, adj, p_edge, counts, *a, **k)

    m.decode = spy
    return raw


def test_discrete_last_step_joins_pieces_and_reports_it(data, tmp_path):
    from araneus.models.discrete import component_labels

    m = get_model("discrete")(**TINY["discrete"], exact=False, parent_head=False)
    m.fit(data, _cfg(steps=2, out=str(tmp_path / "r")))  # barely trained: webs in pieces
    raw = _spy_adjacency(m)
    cond = {"num_nodes": 20}
    webs = m.sample(cond, 8, seed=0, steps=3)
    st = m.last_decode_stats
    assert st.bridge_samples > 0 and st.bridge_nodes >= st.bridge_samples
    assert st.repaired_samples >= st.bridge_samples  # a bridged sample counts as repaired
    assert st.component_nodes_dropped == 0 or st.degree_cut > 0  # only cap cuts can split
    adj, counts = raw[-1]
    real = torch.arange(adj.shape[1])[None] < torch.as_tensor(counts)[:, None]
    assert torch.all((component_labels(adj) == 0) | ~real)  # the sampled graph is whole
    kept = sum(w.n_nodes for w in webs)
    set_sampling(m, ["connect=false"])
    plain = m.sample(cond, 8, seed=0, steps=3)
    assert m.last_decode_stats.bridge_samples == 0
    assert m.last_decode_stats.component_nodes_dropped > 0  # as drawn: the decoder repairs
    assert sum(w.n_nodes for w in plain) < kept
    old = json.loads((tmp_path / "r" / "model.json").read_text())
    del old["config"]["parent_head"]  # written before the parent head existed
    (tmp_path / "r" / "model.json").write_text(json.dumps(old))
    legacy = load_model(tmp_path / "r")
    assert not legacy.config.parent_head and legacy.net.edge_head[-1].out_features == 2


def test_discrete_parent_head_draws_whole_webs_without_repair(data, tmp_path):
    from araneus.models.d3pm import parent_targets
    from araneus.models.discrete import _pair_mask

    m = get_model("discrete")(**TINY["discrete"], exact=False)
    assert m.config.parent_head and m.config.parent_weight == 1.0
    m.fit(data, _cfg(steps=2, out=str(tmp_path / "r")))  # barely trained
    assert m.net.edge_head[-1].out_features == 3  # edge classes + the parent score
    raw = _spy_adjacency(m)
    m.sample({"num_nodes": 20}, 8, seed=0, steps=3)
    st = m.last_decode_stats
    assert st.bridge_samples == 0  # no bridge drawn: the parent head joins every node
    assert st.component_nodes_dropped == 0 or st.degree_cut > 0  # only cap cuts can split
    adj, counts = raw[-1]
    real = torch.arange(adj.shape[1])[None] < torch.as_tensor(counts)[:, None]
    pairs = _pair_mask(real, m.config.band)
    parent = parent_targets(adj, pairs)  # every real node after the first has one
    assert torch.all((parent >= 0) == (real & (torch.arange(adj.shape[1]) > 0)))
    with pytest.raises(ConfigError, match="parent_weight"):
        get_model("discrete")(parent_weight=-1.0)


def test_band_layout_matches_its_definition_with_gradients():
    from araneus.models.nets import band_transpose, from_band, to_band

    g = torch.Generator().manual_seed(0)
    b, L, B, C = 2, 7, 2, 3
    dense = torch.randn(b, L, L, C, generator=g, requires_grad=True)
    band = to_band(dense, B)
    assert band.shape == (b, L, 2 * B + 1, C)
    for i in range(L):
        for o in range(2 * B + 1):
            j = i + o - B
            want = dense[:, i, j] if 0 <= j < L else torch.zeros(b, C)
            assert torch.equal(band[:, i, o], want)
    back = from_band(band, B)
    near = (torch.arange(L)[:, None] - torch.arange(L)[None, :]).abs() <= B
    assert torch.equal(back, dense * near[None, :, :, None])
    assert torch.equal(band_transpose(band, B), to_band(dense.transpose(1, 2), B))
    (band_transpose(band, B) * torch.arange(2.0 * B + 1)[:, None]).sum().backward()
    grad = dense.grad  # d/d dense[i, j] of the transposed band's offset weight j - i + B
    offs = (torch.arange(L)[:, None] - torch.arange(L)[None, :]) + B  # pair (i, j) -> i - j + B
    assert torch.equal(grad[0, :, :, 0], torch.where(near, offs.float(), 0.0))


def test_component_labels_match_scipy():
    from scipy.sparse.csgraph import connected_components

    from araneus.models.discrete import component_labels

    g = torch.Generator().manual_seed(0)
    a = torch.rand(6, 30, 30, generator=g) < 0.04
    a = (a | a.transpose(1, 2)) & ~torch.eye(30, dtype=torch.bool)
    lab = component_labels(a)
    for b in range(6):
        _, ref = connected_components(a[b].numpy().astype(int), directed=False)
        same = lab[b][:, None] == lab[b][None, :]
        assert torch.equal(same, torch.as_tensor(ref[:, None] == ref[None, :]))
        assert torch.all(lab[b] <= torch.arange(30))  # the smallest index in the component


def test_discrete_structure_features(data):
    m = get_model("discrete")(**TINY["discrete"], banded_edges=False, self_condition=False)
    m.setup(data)
    adj = torch.zeros(1, 5, 5, dtype=torch.bool)
    for a, b in [(0, 1), (1, 2), (0, 2), (2, 3)]:  # a triangle and a tail; node 4 alone
        adj[0, a, b] = adj[0, b, a] = True
    node, edge = m._inputs(torch.zeros(1, 5, 3), adj)
    assert node.shape == (1, 5, 5) and edge.shape == (1, 5, 5, 6)
    assert torch.allclose(node[0, :, 3] * m.max_degree, torch.tensor([2.0, 2, 3, 1, 0]))
    common = edge[0, :, :, 3] * 2
    assert common[0, 1] == 1 and common[0, 3] == 1 and common[3, 4] == 0
    gap = edge[0, :, :, 4]
    assert gap[0, 1] == pytest.approx(1 / m.config.band) and torch.allclose(gap, gap.T)
    same = edge[0, :, :, 5]
    assert same[0, 3] == 1 and same[3, 4] == 0 and same[4, 4] == 1
    assert node[0, :, 4].tolist() == [1, 1, 1, 1, 0]  # connected to the root
    legacy = get_model("discrete")(
        **TINY["discrete"], structure=False, components=False, banded_edges=False,
        self_condition=False,
    )  # fmt: skip
    legacy.setup(data)
    node, edge = legacy._inputs(torch.zeros(1, 5, 3), adj)
    assert node.shape == (1, 5, 3) and edge.shape == (1, 5, 5, 3)


def test_discrete_self_condition_inputs_in_band_layout(data):
    from araneus.models.nets import from_band

    m = get_model("discrete")(**TINY["discrete"])  # banded edges, self-conditioning
    m.setup(data)
    B = m.config.band
    assert m.net.band == B > 0
    adj = torch.zeros(1, 5, 5, dtype=torch.bool)
    adj[0, 0, 1] = adj[0, 1, 0] = True
    node, edge = m._inputs(torch.zeros(1, 5, 3), adj)
    assert node.shape == (1, 5, 9) and edge.shape == (1, 5, 2 * B + 1, 8)
    assert node[0, :, 8].eq(0).all() and edge[0, :, :, 6:].eq(0).all()  # no estimate yet
    x0 = torch.randn(1, 5, 3)
    pe = torch.rand(1, 5, 5)
    pe = pe + pe.transpose(1, 2)
    node, edge = m._inputs(torch.zeros(1, 5, 3), adj, (x0, pe))
    assert torch.equal(node[0, :, 5:8], x0[0]) and node[0, :, 8].eq(1).all()
    dense = from_band(edge, B)[0]  # back to (5, 5, 8): pair (i, j) in every channel
    assert torch.allclose(dense[..., 6], pe[0]) and torch.allclose(
        dense[..., 7], torch.cdist(x0, x0)[0]
    )
    assert dense[0, 1, 0] == 0 and dense[0, 1, 1] == 1  # one-hot class of the noisy edge
    x, logits = m._run(m.net, torch.zeros(2, 5, 3), torch.ones(2), adj.repeat(2, 1, 1),
                       torch.ones(2), torch.ones(2, 5, dtype=torch.bool),
                       torch.zeros(2, 7), torch.zeros(2, 7, dtype=torch.bool))  # fmt: skip
    assert x.shape == (2, 5, 3) and logits.shape == (2, 5, 5, 3)  # dense; + parent score
    assert torch.allclose(logits, logits.transpose(1, 2), atol=1e-6)  # symmetric pairs


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
    ordered = m.ordered_arrays(train)[0]  # the model's (depth-first) node order
    for s, w in enumerate(webs):
        n = int(train.mask[s].sum())
        assert np.allclose(w.pos, ordered[s, :n], atol=1e-4 * rho[s] * m.config.position_unit)
        assert w.n_edges == int((train.nbrs[s] >= 0).sum()) // 2
    assert stats.repair_rate == 0.0  # clean slots need no repair
    noisy = enc.copy()
    for s in range(4):  # noise in padding rows (a stochastic sampler leaves some) is ignored
        noisy[s, int(train.mask[s].sum()) :] = np.random.default_rng(s).normal(0, 3, (1, 1))
    again, stats = m.decode(noisy, train.mask.sum(1)[:4], rho[:4] * m.config.position_unit)
    assert stats.repair_rate == 0.0 and all(a.n_edges == w.n_edges for a, w in zip(again, webs))
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


def test_leaf_fraction_fitted_checked_and_legacy(data, tmp_path):
    from araneus.models.base import leaf_fraction

    train = data.subset("train")
    deg = (np.asarray(train.nbrs) >= 0).sum(-1)[np.asarray(train.mask, bool)]
    assert leaf_fraction(data) == pytest.approx((deg == 1).mean())
    m = get_model("discrete")(**TINY["discrete"])
    m.fit(data, _cfg(steps=2, out=str(tmp_path / "r")))
    assert m.config.leaf_fraction == pytest.approx(leaf_fraction(data))
    with pytest.raises(ConfigError, match="leaf_fraction"):
        get_model("sparse")(leaf_fraction=1.5)
    old = json.loads((tmp_path / "r" / "model.json").read_text())
    del old["config"]["leaf_fraction"]
    (tmp_path / "r" / "model.json").write_text(json.dumps(old))
    assert load_model(tmp_path / "r").config.leaf_fraction == 1.0  # no preference


def test_discrete_t_power_setting_legacy_and_shipped(data, tmp_path):
    from araneus.models.pretrained import load_pretrained

    shipped = load_pretrained("discrete").config
    assert shipped.t_power == 3.0 and shipped.sample_steps == 14
    m = get_model("discrete")(**TINY["discrete"])
    m.fit(data, _cfg(steps=2, out=str(tmp_path / "r")))
    meta = json.loads((tmp_path / "r" / "model.json").read_text())
    del meta["config"]["t_power"]  # written before the setting: the even grid
    (tmp_path / "r" / "model.json").write_text(json.dumps(meta))
    assert load_model(tmp_path / "r").config.t_power == 1.0
    with pytest.raises(ConfigError, match="t_power"):
        get_model("discrete")(t_power=0.0)
    set_sampling(m, ["t_power=2"])
    assert m.config.t_power == 2.0 and len(m.sample({"num_nodes": 12}, 2, seed=0, steps=3)) == 2


@pytest.mark.parametrize("name", ["sparse", "discrete"])
def test_shipped_leaf_fraction_is_the_default_datasets(name):
    from araneus.dataset import default_dataset
    from araneus.models.base import leaf_fraction
    from araneus.models.pretrained import load_pretrained

    ds = default_dataset(4000, seed=0)  # what scripts/train_default.py trains on
    assert load_pretrained(name).config.leaf_fraction == pytest.approx(leaf_fraction(ds))


@pytest.mark.parametrize("name", ["sparse", "discrete", "autoregressive"])
def test_a_dataset_feature_beyond_the_seven_is_one_more_condition(name, tmp_path):
    """Issue 21 will add mechanical descriptors: any feature a dataset carries becomes a
    condition (embedding width, checkpoint, sampling) without a change in the models; a
    positive feature spanning >= 20x gets the log map like the lengths."""
    from _models_synth import synth_web
    from araneus.dataset import WebDataset
    from araneus.models.conditioning import LOG_RANGE_RATIO

    rng = np.random.default_rng(7)
    webs = [synth_web(rng) for _ in range(40)]
    # a wide positive range for extent_z: every other web stretched vertically
    webs = [w.transform(scale=np.array([1.0, 1.0, 30.0])) if i % 2 else w
            for i, w in enumerate(webs)]  # fmt: skip
    ds = WebDataset.from_webs(webs, K=4, L=24, extra_features=("extent_z", "max_degree"),
                              split=np.r_[np.zeros(32, np.int8), np.full(8, 2, np.int8)])  # fmt: skip
    kw = TINY.get(name, {"width": 32, "depth": 1, "heads": 2, "mixtures": 3})
    m = get_model(name)(**kw)
    m.fit(ds, _cfg(steps=2, out=str(tmp_path / "r")))
    names = m.feature_names
    assert names[-2:] == ("extent_z", "max_degree")
    sc = m.scaler
    ez, md = names.index("extent_z"), names.index("max_degree")
    assert sc.hi[ez] >= LOG_RANGE_RATIO * sc.lo[ez] and sc.log[ez] == (name != "discrete")
    assert not sc.log[md]  # 2..4: linear
    back = load_model(tmp_path / "r")
    assert back.feature_names == names
    webs_out = back.sample({"extent_z": 5.0, "num_nodes": 12}, 3, seed=0)
    assert len(webs_out) == 3 and all(w.meta["requested"]["extent_z"] == 5.0 for w in webs_out)
    with pytest.raises(InputError, match="unknown condition"):
        back.sample({"stiffness_x_per_mass": 1.0}, 1)


def test_train_threads_setting_is_checked_and_restored(data):
    before = torch.get_num_threads()
    m = get_model("sparse")(**TINY["sparse"])
    seen = []
    orig = m.training_loss

    def spy(net, batch, gen):
        seen.append(torch.get_num_threads())
        return orig(net, batch, gen)

    m.training_loss = spy
    m.fit(data, _cfg(steps=2, threads=1))
    assert seen and set(seen) == {1} and torch.get_num_threads() == before
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="threads"):
            _cfg(threads=bad)


def test_sparse_depth_first_order_setting_and_legacy(data, tmp_path):
    from araneus.dataset.encode import depth_first_permutation, permute_nodes
    from araneus.models.base import max_canonical_offset

    m = get_model("sparse")(**TINY["sparse"])
    assert m.config.order == "dfs"
    m.fit(data, _cfg(steps=2, out=str(tmp_path / "r")))
    train = data.subset("train")
    _, nb = permute_nodes(train.pos, train.nbrs, depth_first_permutation(train.nbrs, train.mask))
    assert m.config.offset_range == max_canonical_offset(nb)
    assert m.config.slot_unit == max(min(m.config.offset_range / 4, 4.0), 1.0)
    x = m.encode(train)["x"].numpy()  # the slots name the depth-first neighbours
    slots = np.rint(x[..., 3:] * m.config.slot_unit).astype(int)
    i = np.arange(x.shape[1])[None, :, None]
    want = np.where((nb >= 0) & (nb < i), i - nb, 0)
    np.testing.assert_array_equal(np.sort(slots, -1), np.sort(want, -1))
    meta = json.loads((tmp_path / "r" / "model.json").read_text())
    del meta["config"]["order"]  # a checkpoint written before the setting
    (tmp_path / "r" / "model.json").write_text(json.dumps(meta))
    assert load_model(tmp_path / "r").config.order == "bfs"
    with pytest.raises(ConfigError, match="order must be"):
        get_model("sparse")(order="random")


def test_sparse_clamped_slots_never_reach_before_the_first_node(data, tmp_path):
    m = get_model("sparse")(**TINY["sparse"])
    assert m.config.clamp_slots
    m.fit(data, _cfg(steps=2, out=str(tmp_path / "r")))
    m.sample({"num_nodes": 20}, 8, seed=0, steps=3)
    assert m.last_decode_stats.dangling == 0  # an untrained network's slots, clamped
    meta = json.loads((tmp_path / "r" / "model.json").read_text())
    del meta["config"]["clamp_slots"]  # a checkpoint written before the setting
    (tmp_path / "r" / "model.json").write_text(json.dumps(meta))
    old = load_model(tmp_path / "r")
    assert not old.config.clamp_slots
    old.sample({"num_nodes": 20}, 8, seed=0, steps=3)
    assert old.last_decode_stats.dangling > 0  # the same draw unclamped names missing nodes
