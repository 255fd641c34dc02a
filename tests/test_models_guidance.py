"""Feature guidance (issue 20): the math on known cases, and what it does in each model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _models_synth import synth_dataset
from araneus.errors import ConfigError
from araneus.features import FEATURE_NAMES, features_table
from araneus.models import get_model
from araneus.models.base import set_sampling
from araneus.models.diffusion import edge_vector_mse
from araneus.models.guidance import (
    EDGE_MEAN_FEATURES,
    edge_feature_means,
    feature_guidance,
    guided_features,
    lookahead_log_potential,
    tilt_edge_probs,
)
from araneus.models.sparse import encode_slots, slot_edges
from araneus.models.train import TrainConfig
from araneus.web import WebGraph

LENGTH_LIKE = ["mean_edge_length", "mean_abs_dx", "mean_abs_dy", "mean_abs_dz"]


def _chain(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random 3-D polyline of n nodes: positions (1, n, 3) and edges (1, n, n)."""
    rng = np.random.default_rng(seed)
    pos = np.cumsum(rng.normal(size=(n, 3)) * [1.0, 0.5, 2.0], axis=0)
    w = np.zeros((n, n))
    w[np.arange(n - 1), np.arange(1, n)] = 1.0
    return torch.tensor(pos[None]), torch.tensor(w[None])


def test_edge_feature_means_are_the_web_features():
    pos, w = _chain(12, 0)
    web = WebGraph(pos[0].numpy(), np.stack([np.arange(11), np.arange(1, 12)], 1))
    want = features_table([web])[0, [FEATURE_NAMES.index(f) for f in LENGTH_LIKE]]
    got = edge_feature_means(pos, w, LENGTH_LIKE, eps=0.0)[0].numpy()
    assert np.allclose(got, want, rtol=1e-12)
    assert guided_features([*FEATURE_NAMES, "stiffness_x_per_mass"]) == LENGTH_LIKE
    assert set(EDGE_MEAN_FEATURES) == set(LENGTH_LIKE)
    # soft weights: a half-weight edge counts half
    w2 = w.clone()
    w2[0, 0, 1] = 0.5
    lens = (pos[0, 1:] - pos[0, :-1]).norm(dim=-1)
    expect = (lens.sum() - 0.5 * lens[0]) / (11 - 0.5)
    assert torch.isclose(edge_feature_means(pos, w2, ["mean_edge_length"], 0.0)[0, 0], expect)


def test_gauss_newton_guidance_meets_reachable_targets_and_moves_little():
    pos, w = _chain(30, 1)
    now = edge_feature_means(pos, w, LENGTH_LIKE)
    target = now * torch.tensor([1.2, 1.5, 0.8, 1.0], dtype=now.dtype)  # reachable: stretch
    present = torch.ones(1, 4, dtype=torch.bool)
    p = pos
    for _ in range(8):
        p = feature_guidance(p, w, LENGTH_LIKE, target, present, strength=1.0)
    err = (edge_feature_means(p, w, LENGTH_LIKE) / target).log().abs().max()
    assert err < 1e-3
    # a pure rescale is met by (nearly) the scaled web: the step is the least change
    p = pos
    scale_t = now * 1.1
    for _ in range(8):
        p = feature_guidance(p, w, LENGTH_LIKE, scale_t, present, strength=1.0)
    assert (edge_feature_means(p, w, LENGTH_LIKE) / scale_t).log().abs().max() < 1e-3
    # absent features and samples without edges are left alone; strength 0 changes nothing
    none = torch.zeros_like(present)
    assert torch.equal(feature_guidance(pos, w, LENGTH_LIKE, target, none), pos)
    assert torch.equal(feature_guidance(pos, torch.zeros_like(w), LENGTH_LIKE, target, present),
                       pos)  # fmt: skip
    assert torch.equal(feature_guidance(pos, w, LENGTH_LIKE, target, present, strength=0), pos)


def test_length_guidance_scales_every_edge_alike():
    """A requested mean edge length is met by scaling each edge by the same factor, so the
    distribution of lengths relative to their mean keeps its shape (a step in position
    space would stretch only the loose ends of a thread)."""
    pos, w = _chain(25, 4)
    now = edge_feature_means(pos, w, ["mean_edge_length"])
    p = pos
    for _ in range(5):  # first order in log m: 1 + log 1.3 after one step, then 1.3
        p = feature_guidance(p, w, ["mean_edge_length"], now * 1.3,
                             torch.ones(1, 1, dtype=torch.bool), strength=1.0)  # fmt: skip
        d0, d1 = pos[0, 1:] - pos[0, :-1], p[0, 1:] - p[0, :-1]
        ratio = d1.norm(dim=-1) / d0.norm(dim=-1)
        assert torch.allclose(ratio, ratio.mean().expand_as(ratio), atol=1e-4)
    assert torch.allclose(ratio, torch.full_like(ratio, 1.3), atol=1e-4)
    unit = lambda d: d / d.norm(dim=-1, keepdim=True)  # noqa: E731
    assert torch.allclose(unit(d1), unit(d0), atol=1e-3)  # directions kept


def test_guidance_trust_region_bounds_each_step():
    pos, w = _chain(20, 2)
    now = edge_feature_means(pos, w, LENGTH_LIKE)
    present = torch.ones(1, 4, dtype=torch.bool)
    p = feature_guidance(pos, w, LENGTH_LIKE, now * 50, present, strength=1.0, max_move=0.25)
    d0, d1 = pos[0, 1:] - pos[0, :-1], p[0, 1:] - p[0, :-1]  # a chain: edges i -> i + 1
    rel = ((d1 - d0).norm(dim=-1) / d0.norm(dim=-1)).pow(2).mean().sqrt()
    assert rel <= 0.25 + 1e-6
    # one length requested only: only the requested feature is driven to its target
    one = torch.tensor([[True, False, False, False]])
    q = pos
    for _ in range(6):
        q = feature_guidance(q, w, LENGTH_LIKE, now * 0.7, one, strength=1.0)
    got = edge_feature_means(q, w, LENGTH_LIKE)
    assert torch.isclose(got[0, 0], now[0, 0] * 0.7, rtol=1e-3)


def test_edge_count_tilt_meets_the_expected_total():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(3, 10, 10, generator=g) * 0.3
    pairs = torch.ones(3, 10, 10, dtype=torch.bool).triu(1)
    target = torch.tensor([4.0, 20.0, float("nan")])
    out = tilt_edge_probs(p, pairs, target)
    counts = (out * pairs).sum((1, 2))
    assert torch.allclose(counts[:2], target[:2].double().to(counts.dtype), atol=1e-4)
    assert torch.allclose(out[2], p[2] * pairs[2], atol=1e-6)  # NaN: unchanged
    assert torch.all(out[~pairs] == 0)
    # the tilt is one logit shift: the order of the pairs is kept
    a, b = p[0][pairs[0]], out[0][pairs[0]]
    assert torch.equal(torch.argsort(a), torch.argsort(b))


def test_lookahead_potential_flat_early_sharp_late():
    target = torch.tensor([[1.0, 0.5]])
    known = torch.tensor([[True, True]])
    total = torch.tensor([40.0])
    on = torch.tensor([[[10.0, 5.0]]])  # 10 edges exactly on target
    off = torch.tensor([[[12.0, 5.0]]])  # 20% too long
    early = lookahead_log_potential(off, torch.tensor([10.0]), total, target, known)
    late = lookahead_log_potential(off * 3.9, torch.tensor([39.0]), total, target, known)
    assert lookahead_log_potential(on, torch.tensor([10.0]), total, target, known) == 0
    assert 0 > early > late  # the same relative miss counts more when few edges are left
    unknown = lookahead_log_potential(off, torch.tensor([10.0]), total, target, ~known)
    assert unknown == 0


def test_edge_vector_loss_counts_lengths_not_translations():
    pos, w = _chain(10, 3)
    pos, w = pos.float(), w.float()
    assert edge_vector_mse(pos + 5.0, pos, w) < 1e-10  # a translation changes no edge
    stretched = pos * 1.5
    want = ((stretched[0, 1:] - stretched[0, :-1]) - (pos[0, 1:] - pos[0, :-1])).pow(2)
    assert torch.isclose(edge_vector_mse(stretched, pos, w), want.sum(-1).mean())


def test_slot_edges_are_the_decoded_backward_edges():
    edges = [(1, 0), (2, 1), (3, 1), (4, 2), (5, 3), (5, 4)]
    lists = [sorted({b for a, b in edges if a == u} | {a for a, b in edges if b == u})
             for u in range(6)]  # fmt: skip
    nbrs = np.array([[r + [-1] * (3 - len(r)) for r in lists]])
    slots = torch.tensor(encode_slots(nbrs, 2.0), dtype=torch.float32)
    mask = torch.ones(1, 6, dtype=torch.bool)
    w = slot_edges(slots, mask, 2.0)
    got = {(int(i), int(j)) for i, j in zip(*torch.nonzero(w[0], as_tuple=True))}
    assert got == set(edges)
    mask[0, 5] = False  # a node beyond the count states no edge
    assert slot_edges(slots, mask, 2.0)[0, 5].sum() == 0


@pytest.fixture(scope="module")
def data():
    return synth_dataset(64, seed=3, K=4, L=24)


def _trained(name, data, **kw):
    m = get_model(name)(width=32, depth=1, heads=2, **kw)
    m.fit(data, TrainConfig(steps=6, batch_size=8, lr=2e-3, warmup=2, progress=False))
    return m


@pytest.mark.parametrize("name", ["sparse", "discrete"])
def test_diffusion_feature_guidance_follows_the_request(data, name):
    """Even a barely trained network, guided, ends far nearer the requested edge-mean
    features than the same network unguided (known answer: the requested values; what is
    left comes from the decoder keeping the largest piece of an untrained network's web)."""
    m = _trained(name, data)
    test = data.subset("test")
    conds = [dict(zip(data.feature_names, map(float, f))) for f in test.features[:8]]
    idx = [data.feature_names.index(f) for f in LENGTH_LIKE]
    req = np.array([[c[f] for f in LENGTH_LIKE] for c in conds])
    errs = {}
    for g in (0.0, 1.0):
        set_sampling(m, ["exact=false", f"feature_guidance={g}"])
        webs = m.sample(conds, 8, seed=0)
        got = features_table(webs)[:, idx]
        errs[g] = float(np.median(np.abs(np.log(got / req))))
    assert errs[1.0] < 0.5 * errs[0.0]
    with pytest.raises(ConfigError, match="feature_guidance"):
        set_sampling(m, ["feature_guidance=1.5"])


def test_autoregressive_guidance_picks_among_its_own_draws(data):
    m = _trained("autoregressive", data)
    test = data.subset("test")
    conds = [dict(zip(data.feature_names, map(float, f))) for f in test.features[:8]]
    idx = [data.feature_names.index(f) for f in LENGTH_LIKE]
    req = np.array([[c[f] for f in LENGTH_LIKE] for c in conds])
    errs = {}
    for g in (0.0, 1.0):
        set_sampling(m, ["exact=false", f"feature_guidance={g}"])
        webs = m.sample(conds, 8, seed=0)
        got = features_table(webs)[:, idx]
        errs[g] = float(np.median(np.abs(np.log(got / req))))
        assert m.last_decode_stats.repair_rate == 0.0  # the parent pointer: whole webs
    assert errs[1.0] < errs[0.0]
    set_sampling(m, ["feature_guidance=0"])
    a = m.sample(conds, 8, seed=5)
    set_sampling(m, ["feature_guidance=1", "guide_draws=1"])  # one draw: no choice at all
    b = m.sample(conds, 8, seed=5)
    assert all(np.allclose(x.pos, y.pos) for x, y in zip(a, b))


def test_parent_draw_count_is_the_expected_edge_total_of_the_parent_draw():
    from araneus.models.d3pm import draw_with_parents, parent_draw_count

    g = torch.Generator().manual_seed(4)
    L = 8
    pairs = torch.ones(1, L, L, dtype=torch.bool).triu(1)
    q = torch.rand(1, L, L, generator=g) * 0.5 * pairs
    scores = torch.randn(1, L, L, generator=g) * 2  # a parent law that disagrees with q
    want = float(parent_draw_count(scores, pairs)(q)[0])
    draws = 4000
    adj, _ = draw_with_parents(q.expand(draws, L, L), scores.expand(draws, L, L),
                               pairs.expand(draws, L, L), torch.Generator().manual_seed(5))  # fmt: skip
    got = (adj & pairs).sum((1, 2)).double()
    assert abs(float(got.mean()) - want) < 4 * float(got.std()) / draws**0.5
    assert want > float((q * pairs).sum())  # the surer parent law adds edges
    # tilting to a total with that count: the draw then makes the total on average
    tilted = tilt_edge_probs(q, pairs, torch.tensor([10.0]), count=parent_draw_count(scores, pairs))
    adj, _ = draw_with_parents(tilted.expand(draws, L, L), scores.expand(draws, L, L),
                               pairs.expand(draws, L, L), torch.Generator().manual_seed(6))  # fmt: skip
    assert abs(float((adj & pairs).sum((1, 2)).double().mean()) - 10.0) < 0.1


def test_closed_form_gradients_match_autograd():
    from araneus.models.guidance import EDGE_MEAN_GRADIENTS

    d = torch.randn(5, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    for name, grad in EDGE_MEAN_GRADIENTS.items():
        dv = d.clone().requires_grad_(True)
        (auto,) = torch.autograd.grad(EDGE_MEAN_FEATURES[name](dv, 1e-3).sum(), dv)
        assert torch.allclose(grad(d, 1e-3), auto, atol=1e-12), name
