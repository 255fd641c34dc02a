"""Model 3 (autoregressive graph transformer): likelihood, causality, cache, sampling."""

import numpy as np
import pytest
import torch

from _models_synth import synth_dataset
from araneus import InputError
from araneus.features import feature_vector
from araneus.models import get_model, load_model
from araneus.models.autoregressive import AutoregressiveGraph
from araneus.models.mixture import mog_log_prob, sample_mog, split_mog, top_p_filter
from araneus.models.train import TrainConfig


@pytest.fixture(scope="module")
def data():
    return synth_dataset(48, seed=1)


@pytest.fixture(scope="module")
def untrained(data):
    torch.manual_seed(0)
    m = AutoregressiveGraph(width=32, depth=2, heads=2, mixtures=3)
    m.setup(data)
    return m


def _batch(model, data, n=6):
    b = model.encode(data.subset("train"))
    return {k: v[:n] for k, v in b.items()}


def test_registered():
    assert get_model("autoregressive") is AutoregressiveGraph


def test_loss_is_sum_of_step_terms(untrained, data):
    m, batch = untrained, _batch(untrained, data)
    present = torch.ones_like(batch["cond"], dtype=torch.bool)
    terms = m.step_log_likelihood(m.net, batch, batch["cond"], present)
    assert terms.shape == (6, m.max_nodes + 1)
    # steps past the stop carry nothing; every defined term is a log-probability
    n = batch["n"]
    steps = torch.arange(m.max_nodes + 1)
    assert torch.all(terms[steps[None] > n[:, None]] == 0)
    # p_hide = p_uncond = 0 makes the training loss deterministic: -mean(sum_t / n)
    m2 = AutoregressiveGraph(
        m.config.__class__(**{**m.config.__dict__, "p_hide": 0.0, "p_uncond": 0.0})
    )
    m2.__dict__.update({k: v for k, v in m.__dict__.items() if k != "config"})
    loss = m2.training_loss(m.net, batch, torch.Generator().manual_seed(0))
    expect = -(terms.sum(-1) / n).mean()
    assert torch.allclose(loss, expect, atol=1e-5)


def test_causality(untrained, data):
    m, batch = untrained, _batch(untrained, data, 2)
    present = torch.ones_like(batch["cond"], dtype=torch.bool)
    base = m.step_log_likelihood(m.net, batch, batch["cond"], present)
    t = 5
    pert = {k: v.clone() for k, v in batch.items()}
    pert["x"][:, t + 1 :] += 0.7  # move later nodes
    pert["back"][:, t + 1 :, :] = False  # and change their edges
    after = m.step_log_likelihood(m.net, pert, batch["cond"], present)
    # predictions for nodes 0..t (steps 0..t) do not see nodes > t
    assert torch.allclose(base[:, : t + 1], after[:, : t + 1], atol=1e-5)
    assert not torch.allclose(base[:, t + 2 :], after[:, t + 2 :])


@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_cache_equivalence(untrained, guidance):
    m = untrained
    vals = torch.zeros(3, len(m.feature_names))
    pres = torch.zeros_like(vals, dtype=torch.bool)
    pres[:, 4] = True
    out = []
    for use_cache in (True, False):
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            out.append(m.generate_raw(vals, pres, guidance, g, use_cache=use_cache))
    for a, b in zip(*out):
        assert torch.allclose(a.float(), b.float(), atol=1e-4)


def test_stop_and_validity(untrained):
    m = untrained
    webs = m.sample({}, 8, seed=0)
    sizes = [w.n_nodes for w in webs]
    assert all(2 <= s <= m.max_nodes for s in sizes)
    for w in webs:
        assert w.n_components == 1 and w.degrees.max() <= m.max_degree
    assert m.last_decode_stats.dangling == 0 and m.last_decode_stats.self_loops == 0


def test_temperature_and_top_p_change_samples(untrained):
    m = untrained
    cold_a = m.sample({}, 4, seed=0, temperature=0.0)
    cold_b = m.sample({}, 4, seed=1, temperature=0.0)
    assert all(a.equals(b) for a, b in zip(cold_a, cold_b))  # T=0 is greedy
    warm_a = m.sample({}, 4, seed=0, temperature=1.0)
    warm_b = m.sample({}, 4, seed=1, temperature=1.0)
    assert not all(a.equals(b) for a, b in zip(warm_a, warm_b))
    same = m.sample({}, 4, seed=0, temperature=1.0)
    assert all(a.equals(b) for a, b in zip(warm_a, same))  # seeded
    with pytest.raises(InputError, match="temperature"):
        m.sample({}, 1, temperature=-1)
    with pytest.raises(InputError, match="top_p"):
        m.sample({}, 1, top_p=0)


def test_mixture_math():
    raw = torch.randn(5, 4 * 7)
    lg, mu, ls = split_mog(raw, 4)
    assert lg.shape == (5, 4) and mu.shape == (5, 4, 3)
    # a single-component mixture is a diagonal Gaussian
    x = torch.randn(5, 3)
    lp = mog_log_prob(torch.zeros(5, 1), torch.zeros(5, 1, 3), torch.zeros(5, 1, 3), x)
    ref = torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(-1)
    assert torch.allclose(lp, ref, atol=1e-5)
    f = top_p_filter(torch.log(torch.tensor([[0.6, 0.3, 0.1]])), 0.5)
    assert torch.isinf(f[0, 1:]).all() and torch.isfinite(f[0, 0])
    g = torch.Generator().manual_seed(0)
    s = sample_mog(
        torch.zeros(4000, 1),
        torch.ones(4000, 1, 3),
        torch.zeros(4000, 1, 3),
        temperature=0.25,
        generator=g,
    )
    assert abs(float(s.std()) - 0.5) < 0.05 and abs(float(s.mean()) - 1) < 0.05


def test_train_generate_evaluate(tmp_path, data):
    m = AutoregressiveGraph(width=32, depth=2, heads=2, mixtures=3)
    res = m.fit(
        data,
        TrainConfig(
            steps=60, batch_size=16, lr=3e-3, warmup=5, progress=False, out=str(tmp_path / "run")
        ),
    )
    assert np.mean(res.losses[-10:]) < np.mean(res.losses[:5]) - 1.0
    back = load_model(tmp_path / "run")
    assert isinstance(back, AutoregressiveGraph)
    webs = back.sample({"num_nodes": 16}, 6, seed=0, guidance=1.5)
    for w in webs:
        assert w.n_nodes >= 2 and w.n_components == 1
        f = feature_vector(w)
        assert np.isfinite(f).all()
    from araneus.metrics.vun import validity

    assert all(all(validity(w, K=back.max_degree).values()) for w in webs)


def test_budgets_and_given_quantities(untrained, data):
    m = untrained
    names = m.feature_names
    req = {"num_nodes": 9.0, "num_edges": 11.0, "mean_degree": 2.2}
    vals = torch.zeros(1, len(names))
    pres = torch.zeros_like(vals, dtype=torch.bool)
    for k, v in req.items():
        i = names.index(k)
        vals[0, i] = float(m.scaler.normalise(np.where(np.arange(len(names)) == i, v, 0.0))[i])
        pres[0, i] = True
    steps = torch.arange(4)
    made = torch.tensor([[0.0, 0.0, 1.0, 3.0]])
    b = m.budgets(vals, pres, steps, made)[0] * m.max_nodes
    assert torch.allclose(b[:, 0], 9.0 - steps.float(), atol=1e-4)  # nodes left
    assert torch.allclose(b[:, 2], 11.0 - made[0], atol=1e-4)  # edges left
    assert torch.allclose(b[:, 4], 2.2 * steps.float() / 2 - made[0], atol=1e-4)
    assert torch.all(b[:, 1::2] == m.max_nodes)  # presence flags (scaled back by L)
    none = m.budgets(vals, torch.zeros_like(pres), steps, made)
    assert torch.all(none == 0)  # nothing requested: no budget
    # a requested node count is honoured exactly, whatever the (untrained) stop head says
    webs = m.sample({"num_nodes": 7}, 6, seed=0)
    assert [w.n_nodes for w in webs] == [7] * 6


def test_constrained_sampling_meets_given_totals(untrained):
    m = untrained
    req = {"num_nodes": 10, "num_edges": 12, "mean_edge_length": 3.5}
    webs = m.sample(req, 6, seed=1)
    for w in webs:
        assert w.n_nodes == 10 and w.n_edges == 12
        assert w.edge_lengths.mean() == pytest.approx(3.5, rel=1e-4)
        assert w.n_components == 1 and w.degrees.max() <= m.max_degree
    # mean_degree with num_nodes fixes the total too; without constraints the totals drift
    webs = m.sample({"num_nodes": 10, "mean_degree": 2.4}, 4, seed=1)
    assert all(w.n_edges == 12 for w in webs)
    import dataclasses

    free = AutoregressiveGraph(dataclasses.replace(m.config, exact=False))
    free.__dict__.update({k: v for k, v in m.__dict__.items() if k != "config"})
    loose = free.sample(req, 6, seed=1)
    assert any(w.n_edges != 12 for w in loose)
    assert any(abs(w.edge_lengths.mean() - 3.5) > 1e-3 for w in loose)


def test_parent_pointer_likelihood_and_whole_draws(data):
    torch.manual_seed(0)
    m = AutoregressiveGraph(width=32, depth=2, heads=2, mixtures=3, parent_head=True)
    m.setup(data)
    batch = _batch(m, data)
    assert m.net.parent_head
    present = torch.ones_like(batch["cond"], dtype=torch.bool)
    terms = m.step_log_likelihood(m.net, batch, batch["cond"], present)
    # a node's edge term is log pi(parent) plus the pairs after the parent: giving node t
    # only the edge to t - 1 (a new parent) changes it
    t = 4
    assert batch["back"][0, t].any()
    alt = {k: v.clone() for k, v in batch.items()}
    alt["back"][0, t, :] = False
    alt["back"][0, t, t - 1] = True
    other = m.step_log_likelihood(m.net, alt, batch["cond"], present)
    assert not torch.isclose(terms[0, t], other[0, t])
    webs = m.sample({}, 8, seed=0)
    st = m.last_decode_stats
    assert st.bridge_samples == 0  # no fallback: the pointer always names a parent
    assert all(w.n_components == 1 for w in webs)
    raw = m.generate_raw(torch.zeros(4, 7), torch.zeros(4, 7, dtype=torch.bool), 1.0,
                         torch.Generator().manual_seed(1))  # fmt: skip
    back, n = raw[1], raw[2]
    for b in range(4):
        assert back[b, 1 : int(n[b])].any(-1).all()  # every later node has an earlier one


def test_without_parent_head_the_fallback_counts_as_repair(data, tmp_path):
    # no pointer (the default until issue 20)
    m = AutoregressiveGraph(width=32, depth=2, heads=2, mixtures=3, parent_head=False)
    m.fit(data, TrainConfig(steps=2, batch_size=8, out=str(tmp_path / "r"), progress=False))
    assert not hasattr(m.net, "parent_query")
    m.sample({}, 8, seed=0)
    st = m.last_decode_stats
    assert st.bridge_samples > 0 and st.bridge_nodes >= st.bridge_samples  # edge bias -2
    assert st.repaired_samples >= st.bridge_samples
    import json

    meta = json.loads((tmp_path / "r" / "model.json").read_text())
    del meta["config"]["parent_head"]  # written before the parent pointer existed
    (tmp_path / "r" / "model.json").write_text(json.dumps(meta))
    assert not load_model(tmp_path / "r").config.parent_head


def test_candidate_degrees_are_those_of_the_prefix():
    from araneus.models.autoregressive import degrees_before

    g = torch.Generator().manual_seed(3)
    back = (torch.rand(2, 9, 9, generator=g) < 0.3).tril(-1)
    deg = degrees_before(back)
    for b in range(2):
        for t in range(9):
            sym = back[b, :t, :t] | back[b, :t, :t].T  # the web of nodes 0..t-1
            for j in range(t):
                assert deg[b, t, j] == sym[j].sum()


def test_feature_budgets_are_running_errors_of_the_prefix(untrained):
    m = untrained
    names = m._budget_features
    assert names == ["mean_edge_length", "mean_abs_dx", "mean_abs_dy", "mean_abs_dz"]
    # a 3-node chain in units of rho: edges (1, 0, 0) then (0, 2, 0)
    x = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [1, 2, 0]]])
    back = torch.zeros(1, 3, 3, dtype=torch.bool)
    back[0, 1, 0] = back[0, 2, 1] = True
    per = (m.edge_values(names, x[:, :, None] - x[:, None]) * back[..., None]).sum(2)
    sums = torch.cat([torch.zeros_like(per[:, :1]), per.cumsum(1)], 1)  # before node t
    assert torch.allclose(sums[0, 3], torch.tensor([3.0, 1.0, 2.0, 0.0]), atol=1e-5)
    # mean_abs_dx requested as 0.4 rho: rho = 2 (model units of the scale), dx = 0.8
    vals = torch.zeros(1, len(m.feature_names))
    pres = torch.zeros_like(vals, dtype=torch.bool)
    i = m.feature_names.index("mean_abs_dx")
    phys = np.zeros(len(m.feature_names))
    phys[i] = 0.8 * m._scale
    vals[0, i] = float(m.scaler.normalise(phys)[i])
    pres[0, i] = True
    tgt, known = m.feature_targets_u(vals, pres, torch.tensor([np.log(2.0)], dtype=torch.float32))
    assert known[0].tolist() == [True, True, False, False]  # length: 1 by definition of rho
    assert torch.allclose(tgt[0, :2], torch.tensor([1.0, 0.4]), atol=1e-4)
    made = torch.tensor([[0.0, 0.0, 1.0, 2.0]])
    fb = m.feature_budgets(sums, made, tgt, known)[0]  # (T, 2F)
    no_edge = torch.tensor([0.0, 1, 0, 1, 0, 0, 0, 0])  # no edge yet: no error, flags only
    assert torch.allclose(fb[:2], no_edge.expand(2, 8))
    # after 2 edges: mean length 1.5 - 1, mean |dx| 0.5 - 0.4; unknown features stay 0
    assert torch.allclose(fb[3], torch.tensor([0.5, 1, 0.1, 1, 0, 0, 0, 0]), atol=1e-4)


def test_structure_budgets_count_open_ends_and_junctions_of_the_prefix(untrained):
    m = untrained
    assert m.config.structure_budgets
    # node 0 - 1 - 2, 1 - 3, 3 - 4, 0 - 5: degrees grow as the web is made
    edges = [(1, 0), (2, 1), (3, 1), (4, 3), (5, 0)]
    back = torch.zeros(1, 6, 6, dtype=torch.bool)
    for t, j in edges:
        back[0, t, j] = True
    got = m.prefix_structure(back)[0] * 8  # (7, 2)
    for t in range(7):
        deg = np.zeros(6, int)
        for a, b in edges:
            if a < t and b < t:
                deg[a] += 1
                deg[b] += 1
        assert got[t, 0] == (deg[:t] <= 1).sum() and got[t, 1] == (deg[:t] >= 3).sum()
    assert got[6].tolist() == [3.0, 1.0]  # ends 2, 4, 5; junction 1
