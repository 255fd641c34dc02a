"""Diffusion math (EDM, D3PM) and shared decoding, independent of any network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from araneus.errors import ConfigError
from araneus.models.d3pm import (
    adjacency_time_grid,
    cosine_alpha_bar,
    draw_earlier_neighbours,
    posterior_probs,
    q_probs,
    sample_categorical,
    transition_matrix,
)
from araneus.models.decode import decode_candidates, decode_dense
from araneus.models.diffusion import (
    EDMConfig,
    ancestral_sample,
    cfg_combine,
    dpmpp_2m_step,
    dpmpp_sample,
    heun_sample,
    karras_sigmas,
    masked_mse,
    precondition,
    training_sigma,
)
from araneus.models.sparse import decode_slots, encode_slots, second_offsets


def test_precondition_identities():
    s = torch.tensor([0.01, 0.5, 3.0, 50.0])
    sd = 0.5
    c_skip, c_out, c_in, c_noise = precondition(s, sd)
    # unit variance of the network input and of the effective training target
    assert torch.allclose(c_in**2 * (s**2 + sd**2), torch.ones(4))
    assert torch.allclose(c_skip + c_out**2 / sd**2, torch.ones(4), atol=1e-6)
    assert torch.allclose(c_noise, s.log() / 4)


def test_karras_schedule_and_training_sigma():
    s = karras_sigmas(10, 0.002, 80.0)
    assert s.shape == (11,) and s[-1] == 0
    assert torch.all(s[:-1][1:] < s[:-1][:-1])
    assert s[0] == pytest.approx(80.0, rel=1e-5) and s[-2] == pytest.approx(0.002, rel=1e-4)
    with pytest.raises(ConfigError):
        karras_sigmas(0, 0.002, 80)
    with pytest.raises(ConfigError):
        EDMConfig(sigma_min=1.0, sigma_max=0.5)
    g = torch.Generator().manual_seed(0)
    ls = training_sigma(20000, EDMConfig(p_mean=-1.2, p_std=1.2), g).log()
    assert ls.mean().item() == pytest.approx(-1.2, abs=0.05)
    assert ls.std().item() == pytest.approx(1.2, abs=0.05)


def _gauss_denoiser(sd):
    return lambda x, s: x * (sd**2 / (s**2 + sd**2))[:, None]


@pytest.mark.parametrize("churn", [0.0, 5.0])
def test_heun_samples_gaussian_data_and_is_seeded(churn):
    sd = 0.7
    sig = karras_sigmas(20, 0.002, 80.0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4000, 2, generator=g, dtype=torch.float64) * sig[0]
    out = heun_sample(
        _gauss_denoiser(sd), x, sig, churn=churn, generator=torch.Generator().manual_seed(2)
    )
    assert out.std().item() == pytest.approx(sd, rel=0.03 if churn == 0 else 0.1)
    again = heun_sample(
        _gauss_denoiser(sd), x, sig, churn=churn, generator=torch.Generator().manual_seed(2)
    )
    assert torch.equal(out, again)
    calls = []
    heun_sample(lambda x, s: calls.append(1) or x * 0, x[:2], sig)
    assert len(calls) == 39  # 2 n - 1 network evaluations for n = 20 steps


def test_dpmpp_samples_gaussian_data_with_one_evaluation_per_step():
    sd, den = 0.7, _gauss_denoiser(0.7)
    x = torch.randn(4000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = (x * sd).std().item()  # the ODE maps x * sigma_max to x * sd (up to 1e-4)
    calls = []
    sig = karras_sigmas(32, 0.002, 80.0).double()
    out = dpmpp_sample(lambda xx, s: calls.append(1) or den(xx, s), x * sig[0], sig)
    assert len(calls) == 32
    assert out.std().item() == pytest.approx(exact, rel=0.02)
    assert torch.equal(out, dpmpp_sample(den, x * sig[0], sig))
    # second order: closer than the first-order step (no history) at the same evaluations
    few = karras_sigmas(16, 0.002, 80.0).double()
    err2 = abs(dpmpp_sample(den, x * few[0], few).std().item() - exact)
    one = x * few[0]
    for i in range(16):
        s0, s1 = float(few[i]), float(few[i + 1])
        one = dpmpp_2m_step(one, den(one, one.new_full((4000,), s0)), None, None, s0, s1)
    assert err2 < 0.5 * abs(one.std().item() - exact)


def test_ancestral_sampler_matches_target_variance():
    sd = 0.5
    sig = karras_sigmas(300, 0.002, 80.0)  # first order: converges slowly in the steps
    x = (
        torch.randn(4000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        * sig[0]
    )
    out = ancestral_sample(_gauss_denoiser(sd), x, sig, generator=torch.Generator().manual_seed(3))
    assert out.std().item() == pytest.approx(sd, rel=0.05)


def test_cfg_and_masked_loss():
    c, u = torch.tensor([2.0]), torch.tensor([1.0])
    assert (
        cfg_combine(c, u, 1.0) == c
        and cfg_combine(c, u, 0.0) == u
        and cfg_combine(c, u, 3.0) == 4.0
    )
    pred = torch.zeros(2, 4, 3)
    tgt = torch.zeros(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    tgt[0, 2:] = 1e6  # padding must not count
    assert masked_mse(pred, tgt, mask).item() == 0.0
    tgt[1, 3] = 1.0
    assert masked_mse(pred, tgt, mask).item() == pytest.approx(0.5 * (3 / 12))


def test_d3pm_marginals_and_posterior():
    ab = cosine_alpha_bar(100)
    assert ab[0] == 1 and ab[-1] == 0 and torch.all(ab[1:] <= ab[:-1])
    m = torch.tensor([0.9, 0.1], dtype=torch.float64)
    # Q_t preserves the marginal: m Q = m
    q = transition_matrix(torch.tensor(0.3, dtype=torch.float64), m)
    assert torch.allclose(m @ q, m)
    # at T the forward process forgets x0
    x0 = torch.eye(2, dtype=torch.float64)
    assert torch.allclose(q_probs(x0, ab[-1], m), m.expand(2, 2))
    # posterior vs brute-force Bayes with Qbar matrices
    t, s = 60, 40
    qs = transition_matrix(ab[s], m)
    qts = transition_matrix(ab[t] / ab[s], m)
    for c0 in range(2):
        for ct in range(2):
            bayes = qs[c0, :] * qts[:, ct]
            bayes = bayes / bayes.sum()
            got = posterior_probs(x0[ct], x0[c0], ab[t], ab[s], m)
            assert torch.allclose(got, bayes)
    mix = posterior_probs(x0[1], torch.tensor([0.3, 0.7], dtype=torch.float64), ab[t], ab[s], m)
    assert mix.sum().item() == pytest.approx(1.0)
    probs = torch.tensor([0.2, 0.8]).expand(20000, 2)
    draws = sample_categorical(probs, torch.Generator().manual_seed(0))
    assert draws.float().mean().item() == pytest.approx(0.8, abs=0.02)


def test_adjacency_time_grid():
    # power 1: the even grid sampled before the setting, to the last rounding
    assert torch.equal(adjacency_time_grid(500, 16, 1.0), torch.linspace(500, 0, 17).round().long())
    for n, p in ((16, 3.0), (12, 3.0), (10, 0.5), (40, 8.0), (500, 3.0)):
        t = adjacency_time_grid(500, n, p)
        assert len(t) == n + 1 and t[0] == 500 and t[-1] == 0
        assert torch.all(t[1:] < t[:-1])  # strictly decreasing, never a repeated time
    crowded, even = adjacency_time_grid(500, 10, 3.0), adjacency_time_grid(500, 10, 1.0)
    assert (crowded < 100).sum() > (even < 100).sum()  # power > 1: more steps near t = 0
    with pytest.raises(ConfigError, match="steps"):
        adjacency_time_grid(10, 11, 2.0)


def _chain_pairs(L: int, band: int = 0) -> torch.Tensor:
    up = torch.ones(L, L, dtype=torch.bool).triu(1)
    if band:
        up &= ~up.triu(band + 1)
    return up[None]


def test_parent_targets_and_nll():
    from araneus.models.d3pm import parent_nll, parent_targets

    pairs = _chain_pairs(4)
    adj = torch.zeros(1, 4, 4, dtype=torch.bool)
    for i, j in ((0, 1), (0, 2), (1, 3), (2, 3)):
        adj[0, i, j] = adj[0, j, i] = True
    assert parent_targets(adj, pairs).tolist() == [[-1, 0, 0, 1]]  # earliest earlier neighbour
    scores = torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(0))
    want = 0.0
    for j, p in ((1, 0), (2, 0), (3, 1)):
        want -= torch.log_softmax(scores[0, :j, j].double(), 0)[p].item()
    assert parent_nll(scores, adj, pairs).item() == pytest.approx(want / 3, rel=1e-9)
    scores.requires_grad_(True)
    parent_nll(scores, adj, pairs).backward()
    assert scores.grad[0, 1, 3] < 0 < scores.grad[0, 0, 3]  # toward the true parent
    assert torch.all(scores.grad[0].tril() == 0)  # only candidate pairs i < j are scored


def test_parent_draw_keeps_the_parent_law_and_the_edge_marginals():
    from araneus.models.d3pm import draw_with_parents

    # node 3 of a 4-node chain: parent law pi over 0, 1, 2 and, after the parent,
    # edges with probability r; the implied marginals are q_i = pi_i + P(p < i) r_i
    pi = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    r = torch.tensor([0.0, 0.4, 0.7], dtype=torch.float64)
    q = pi + (pi.cumsum(0) - pi) * r
    n = 40000
    pairs = _chain_pairs(4).expand(n, 4, 4)
    prob = torch.zeros(n, 4, 4, dtype=torch.float64)
    scores = torch.full((n, 4, 4), -5.0, dtype=torch.float64)
    prob[:, :3, 3], scores[:, :3, 3] = q, pi.log()
    adj, parent = draw_with_parents(prob, scores, pairs, torch.Generator().manual_seed(0))
    assert torch.equal(adj, adj.transpose(1, 2)) and not adj.diagonal(0, 1, 2).any()
    col = adj[:, :3, 3]
    assert col.any(1).all() and adj[:, 0, 1].all()  # every later node has an earlier neighbour
    assert torch.all(parent[:, 0] == -1) and torch.all(parent[:, 1] == 0)
    first = col.to(torch.uint8).argmax(1)
    assert torch.equal(first, parent[:, 3])  # the parent is the earliest earlier neighbour
    freq = torch.bincount(parent[:, 3], minlength=3).double() / n
    assert torch.allclose(freq, pi, atol=0.01)
    assert torch.allclose(col.double().mean(0), q, atol=0.01)  # the edge marginals kept


def test_earlier_neighbour_draw_is_the_exact_conditional():
    # node 3's earlier pairs (0, 3), (1, 3), (2, 3) with probabilities q, given >= 1 edge
    q = torch.tensor([0.2, 0.5, 0.1], dtype=torch.float64)
    n = 40000
    prob = torch.zeros(n, 4, 4, dtype=torch.float64)
    prob[:, :3, 3] = q
    pairs = torch.zeros(n, 4, 4, dtype=torch.bool)
    pairs[:, :3, 3] = True
    adj = torch.zeros(n, 4, 4, dtype=torch.long)  # every draw came out empty
    out, redrawn = draw_earlier_neighbours(adj, prob, pairs, torch.Generator().manual_seed(0))
    assert redrawn[:, 3].all() and not redrawn[:, :3].any()
    assert torch.equal(out, out.transpose(1, 2)) and out.dtype == adj.dtype
    col = out[:, :3, 3].bool()
    assert col.any(1).all()
    # the empirical law of the 7 non-empty patterns against prod Bernoulli / P(>= 1)
    codes = (col.long() * torch.tensor([1, 2, 4])).sum(1)
    got = torch.bincount(codes, minlength=8)[1:].double() / n
    bits = torch.tensor([[(c >> k) & 1 for k in range(3)] for c in range(1, 8)]).bool()
    law = torch.where(bits, q, 1 - q).prod(1)
    law = law / (1 - (1 - q).prod())
    assert torch.allclose(got, law, atol=0.01)
    # a node that already has an earlier neighbour, or is not allowed, keeps its draw
    adj2 = torch.zeros(2, 4, 4, dtype=torch.long)
    adj2[0, 1, 3] = adj2[0, 3, 1] = 1
    out2, red2 = draw_earlier_neighbours(adj2, prob[:2], pairs[:2], None,
                                         torch.tensor([[True] * 4, [False] * 4]))  # fmt: skip
    assert torch.equal(out2, adj2) and not red2.any()


def test_earlier_neighbour_draw_joins_every_piece():
    from araneus.models.discrete import _pair_mask, component_labels

    g = torch.Generator().manual_seed(1)
    mask = torch.arange(30)[None] < torch.tensor([30, 22, 9, 1])[:, None]
    pairs = _pair_mask(mask, band=5)
    prob = torch.rand(4, 30, 30, generator=g, dtype=torch.float64) * 0.3
    adj = (torch.rand(4, 30, 30, generator=g, dtype=torch.float64) < prob) & pairs
    adj = (adj | adj.transpose(1, 2)).long()
    lab = component_labels(adj)
    cut = (lab != lab[:, :1]) & mask
    assert cut.any()
    out, redrawn = draw_earlier_neighbours(adj, prob, pairs, g, cut)
    assert redrawn.any() and not (redrawn & ~cut).any()
    lab2 = component_labels(out)
    assert torch.all((lab2 == 0) | ~mask)  # every real node now reaches node 0
    keep = ~redrawn[:, None, :] & ~redrawn[:, :, None]
    assert torch.equal(out * keep, adj * keep)  # pairs of untouched nodes are as drawn
    assert not (out.bool() & ~(pairs | pairs.transpose(1, 2))).any()


def test_slot_encoding_round_trip():
    # a star 0-{1,2} plus 2-3: backward slots state each edge once, parent first
    nbrs = np.array([[[1, 2, -1], [0, 3, -1], [0, 3, -1], [2, 1, -1]]])
    v = encode_slots(nbrs, 4)
    assert v.min() >= 0 and v.max() <= 1
    assert np.allclose(v[0] * 4, [[0, 0, 0], [1, 0, 0], [2, 0, 0], [2, 1, 0]])
    src, dst, conf = decode_slots(v[0], 4)
    assert sorted(zip(src.tolist(), dst.tolist())) == [(1, 0), (2, 0), (3, 1), (3, 2)]
    assert np.all(conf > 0.99)
    # negative (below empty) values are empty slots, not edges
    assert len(decode_slots(-v[0], 4)[0]) == 0
    # the signed encoding of older checkpoints states every edge at both ends
    sv = encode_slots(nbrs, 4, "signed")
    assert sv.min() >= -1 and sv.max() <= 1
    src, dst, conf = decode_slots(sv[0], 4, "signed")
    pairs = sorted(zip(src.tolist(), dst.tolist()))
    assert pairs == [(0, 1), (0, 2), (1, 0), (1, 3), (2, 0), (2, 3), (3, 1), (3, 2)]


def test_second_offsets_name_only_backward_edges():
    # slot values between offsets: the reserve is the other neighbouring offset
    v = np.zeros((8, 1))
    v[5], v[6], v[7] = 1.2, 2.6, 0.3
    src, dst, score = second_offsets(v, 1.0)
    assert sorted(zip(src.tolist(), dst.tolist(), score.round(6).tolist())) == [
        (5, 3, 0.2),
        (6, 4, 0.4),
        (7, 6, 0.3),
    ]


def _assert_valid(web, k):
    assert np.isfinite(web.pos).all()
    assert web.n_nodes == 0 or web.n_components == 1
    if web.n_edges:
        assert (web.edges[:, 0] < web.edges[:, 1]).all()
        assert web.degrees.max() <= k
        assert web.degrees.min() >= 1


def test_decode_adversarial_outputs():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(20, 3))
    web, st = decode_dense(pos, np.ones((20, 20)), 20, 4)  # all-ones adjacency
    _assert_valid(web, 4)
    assert st.degree_cut > 0 and st.repaired_samples == 1
    bad = pos.copy()
    bad[3] = np.nan
    scores = rng.random((20, 20))
    scores[5, :] = np.nan
    web, st = decode_dense(bad, scores, 15, 3, threshold=0.3)
    _assert_valid(web, 3)
    assert st.nonfinite_nodes == 1 and web.n_nodes <= 15
    slots = rng.uniform(-3, 3, size=(20, 4))  # out-of-range slots
    slots[0] = np.inf
    src, dst, conf = decode_slots(slots, 8)
    web, st = decode_candidates(pos, src, dst, conf, 20, 4, symmetric_votes=True)
    _assert_valid(web, 4)
    assert st.dangling > 0
    web, st = decode_dense(pos, np.zeros((20, 20)), 20, 4)  # nothing at all
    assert web.n_nodes == 0 and st.empty == 1


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 12),
    k=st.integers(1, 5),
    raw=st.lists(
        st.tuples(st.integers(-3, 15), st.integers(-3, 15), st.floats(allow_nan=True)), max_size=60
    ),
)
def test_decode_candidates_always_valid(n, k, raw):
    pos = np.arange(36, dtype=float).reshape(12, 3)
    src = np.array([r[0] for r in raw], dtype=np.int64)
    dst = np.array([r[1] for r in raw], dtype=np.int64)
    sc = np.array([r[2] for r in raw], dtype=float)
    web, st = decode_candidates(pos, src, dst, sc, n, k)
    _assert_valid(web, k)
    assert web.n_nodes <= n


def test_constrained_decoding_edge_total_connectivity_and_scale():
    from araneus.models.decode import constrained_edges, decode_candidates

    rng = np.random.default_rng(0)
    pos = rng.normal(size=(8, 3))
    # proposals: two triangles (0-1-2, 3-4-5) and a pendant 6-7; no link between them
    src = np.array([0, 1, 2, 3, 4, 5, 6])
    dst = np.array([1, 2, 0, 4, 5, 3, 7])
    score = np.ones(7)
    loose, st = decode_candidates(pos, src, dst, score, 8, 3)
    assert loose.n_nodes == 3 and st.component_nodes_dropped == 5  # unconstrained: repair
    extra_src, extra_dst = np.array([2, 5, 0]), np.array([3, 6, 7])
    web, st2 = decode_candidates(
        pos, src, dst, score, 8, 3, n_edges=9, mean_length=2.5,
        extra_src=extra_src, extra_dst=extra_dst, extra_score=np.array([0.9, 0.8, 0.1]),
    )  # fmt: skip
    assert web.n_nodes == 8 and web.n_edges == 9 and web.n_components == 1
    assert web.edge_lengths.mean() == pytest.approx(2.5)
    assert st2.component_nodes_dropped == 5  # stats still describe the raw proposals
    # fewer edges than proposed: spanning tree first, then the strongest extras
    i, j = np.array([0, 1, 0, 2]), np.array([1, 2, 2, 3])
    keep = constrained_edges(i, j, np.array([3.0, 2.0, 5.0, 0.1]), 4, 3, 3)
    assert keep.tolist() == [True, False, True, True]
    # degree cap respected even when that leaves the total short
    keep = constrained_edges(np.array([0, 0, 0]), np.array([1, 2, 3]), np.ones(3), 4, 2, 3)
    assert keep.sum() == 2


def test_constrained_decoding_closes_open_ends_down_to_the_limit():
    from araneus.models.decode import constrained_edges

    # path 0-1-2-3-4 (the tree), then extras: a strong chord 1-3 (between inner nodes),
    # and a weaker 0-4 that closes both ends into a ring
    i = np.array([0, 1, 2, 3, 1, 0])
    j = np.array([1, 2, 3, 4, 3, 4])
    score = np.array([9.0, 9.0, 9.0, 9.0, 5.0, 1.0])
    plain = constrained_edges(i, j, score, 5, 4, 5)
    assert plain.tolist() == [True, True, True, True, True, False]  # strongest extra
    closed = constrained_edges(i, j, score, 5, 4, 5, max_leaves=0)
    assert closed.tolist() == [True, True, True, True, False, True]  # ring: no open end
    # the limit allows the two ends of the path: nothing to close, strongest extra again
    assert constrained_edges(i, j, score, 5, 4, 5, max_leaves=2).tolist() == plain.tolist()
    # edges touching one open end come before ends-free ones: 0-2 beats the stronger 1-3
    i2, j2 = np.array([0, 1, 2, 3, 1, 0]), np.array([1, 2, 3, 4, 3, 2])
    keep = constrained_edges(i2, j2, score, 5, 4, 5, max_leaves=1)
    assert keep.tolist() == [True, True, True, True, False, True]


def test_orientation_fit_rotates_a_web_onto_a_reachable_orientation():
    from scipy.spatial.transform import Rotation

    from araneus.features import feature_vector
    from araneus.models.decode import fit_orientation, orientation_rotation
    from araneus.web import WebGraph

    rng = np.random.default_rng(3)
    pos = rng.normal(size=(40, 3)) * [4.0, 1.0, 0.2]  # a flat, elongated web
    web = WebGraph(pos, np.c_[np.arange(39), np.arange(1, 40)])
    turned = web.transform(rotation=Rotation.random(random_state=7).as_matrix())
    target = feature_vector(turned)[1:4]  # an orientation this shape can reach
    fitted, angle = fit_orientation(web, target)
    got = feature_vector(fitted)
    assert angle > 0
    assert np.allclose(got[1:4], target, rtol=0.03)
    # rotation keeps lengths, connections and the centroid
    assert np.allclose(fitted.edge_lengths, web.edge_lengths)
    assert np.array_equal(fitted.edges, web.edges)
    assert np.allclose(fitted.pos.mean(0), web.pos.mean(0))
    # only the requested components count; none requested (or no edges): the identity
    r = orientation_rotation(web.edge_vectors, [np.nan, np.nan, target[2]])
    assert np.abs(np.abs(web.edge_vectors @ r.T).mean(0)[2] - target[2]) < 0.02 * target[2]
    assert np.array_equal(orientation_rotation(web.edge_vectors, [np.nan] * 3), np.eye(3))
    assert np.array_equal(orientation_rotation(np.zeros((0, 3)), target), np.eye(3))
    # already as requested: kept as generated
    assert fit_orientation(web, feature_vector(web)[1:4]) == (web, 0.0)
