"""Discrete (categorical) diffusion math for graph adjacencies (D3PM, as in DiGress).

Transitions preserve the marginal class distribution ``m`` (Vignac et al. 2023):
``Q_t = alpha_t I + (1 - alpha_t) 1 m^T``, so the cumulative matrix is
``Qbar_t = abar_t I + (1 - abar_t) 1 m^T`` with ``abar_t = prod_{s<=t} alpha_s`` following a
cosine schedule. A noised edge state is therefore a draw from
``abar_t x0 + (1 - abar_t) m``, and the limit distribution is ``m`` itself: sampling starts
from a random graph with the training edge density.

Classes are indexed on the last axis (C classes; for an adjacency C = 2: no edge / edge).
"""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError


def cosine_alpha_bar(steps: int, s: float = 0.008) -> torch.Tensor:
    """Cumulative ``abar_t`` for t = 0..steps (``abar_0 = 1``, ``abar_T`` ~ 0), float64."""
    if steps < 1:
        raise ConfigError(f"discrete diffusion steps must be >= 1, got {steps}")
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    ab = (f / f[0]).clamp(0.0, 1.0)
    ab[-1] = 0.0
    return ab


def adjacency_time_grid(diffusion_steps: int, steps: int, power: float = 1.0) -> torch.Tensor:
    """Sampling times ``t_k = round(T (1 - k / n)^power)``, k = 0..n, for the adjacency
    chain: ``T`` first, ``0`` last, strictly decreasing (each ``t_k >= n - k``).

    ``power`` 1 spaces the steps evenly in t; above 1 they crowd toward t = 0, where the
    graph is nearly clean and each step decides fewer, finer pairs (the cosine schedule
    leaves ``abar_t`` below 0.1 for ``t > 0.8 T``, where even steps are spent on graphs
    that are still pure noise).
    """
    if steps < 1 or steps > diffusion_steps:
        raise ConfigError(f"need 1 <= steps <= diffusion_steps, got {steps} of {diffusion_steps}")
    if power == 1.0:  # as sampled before the setting existed, to the last rounding
        return torch.linspace(diffusion_steps, 0, steps + 1).round().long()
    u = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    t = (diffusion_steps * u**power).round().long()
    floor = torch.arange(steps, -1, -1)  # n - k: room for one step per remaining point
    return torch.maximum(t, floor)


def transition_matrix(alpha: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``alpha I + (1 - alpha) 1 m^T`` for alpha (...,) -> (..., C, C); row a = P(a -> .)."""
    c = m.shape[-1]
    eye = torch.eye(c, dtype=m.dtype, device=m.device)
    a = alpha[..., None, None].to(m.dtype)
    return a * eye + (1 - a) * m[None, :].expand(c, c)


def q_probs(x0: torch.Tensor, abar: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``q(x_t | x0)`` probabilities: ``abar x0 + (1 - abar) m``.

    ``x0`` is (..., C) one-hot or probabilities; ``abar`` broadcastable to x0[..., 0].
    """
    a = abar[..., None].to(x0.dtype)
    return a * x0 + (1 - a) * m.to(x0.dtype)


def sample_categorical(
    probs: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw class indices (...,) from probabilities (..., C) by inverse CDF."""
    u = torch.rand(probs.shape[:-1], generator=generator, device=probs.device, dtype=probs.dtype)
    cdf = probs.cumsum(-1)
    cdf = cdf / cdf[..., -1:].clamp_min(1e-12)
    return (u[..., None] > cdf).sum(-1).clamp_max(probs.shape[-1] - 1)


def posterior_probs(
    xt: torch.Tensor,
    x0_probs: torch.Tensor,
    abar_t: torch.Tensor,
    abar_s: torch.Tensor,
    m: torch.Tensor,
) -> torch.Tensor:
    """``p(x_s | x_t) = sum_c p(x0 = c) q(x_s | x_t, x0 = c)`` for s < t.

    Parameters
    ----------
    xt
        (..., C) one-hot current state.
    x0_probs
        (..., C) predicted clean distribution.
    abar_t, abar_s
        cumulative retention at t and s (broadcastable to ``xt[..., 0]``).
    m
        (C,) marginal distribution.

    Returns
    -------
    (..., C) normalised probabilities of ``x_s``.
    """
    dt = xt.dtype
    m = m.to(dt)
    at = abar_t[..., None].to(dt)
    as_ = abar_s[..., None].to(dt)
    a_ts = (at / as_.clamp_min(1e-12)).clamp(0, 1)  # retention from s to t
    # Q_{t|s}[x_s, x_t] as a function of x_s (x_t fixed): a_ts [x_s == x_t] + (1 - a_ts) m[x_t]
    m_xt = (xt * m).sum(-1, keepdim=True)
    fwd = a_ts * xt + (1 - a_ts) * m_xt  # (..., C) over x_s
    # Qbar_s[c, x_s] = as [c == x_s] + (1 - as) m[x_s]; Qbar_t[c, x_t] = at [c == x_t] + (1-at) m[x_t]
    den = at * xt + (1 - at) * m_xt  # (..., C) over c
    w = x0_probs.to(dt) / den.clamp_min(1e-12)  # p(c) / Qbar_t[c, x_t]
    # sum_c w_c Qbar_s[c, x_s] = as w_{x_s} + (1 - as) m[x_s] sum_c w_c
    mix = as_ * w + (1 - as_) * m * w.sum(-1, keepdim=True)
    un = fwd * mix
    return un / un.sum(-1, keepdim=True).clamp_min(1e-30)


def draw_earlier_neighbours(
    adj: torch.Tensor,
    prob: torch.Tensor,
    pairs: torch.Tensor,
    generator: torch.Generator | None = None,
    nodes: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Condition a factorised edge draw on "every node has an earlier neighbour".

    In a breadth-first node order every node after the first has an earlier neighbour
    (its BFS parent), and a graph with that property is connected. Under independent
    per-pair edge probabilities the property splits into one event per node ``j`` over
    the pairs ``(i, j), i < j``, which no other node's event shares, so the draw conditioned
    on it is exact and per node: a node whose earlier pairs all came out empty redraws
    them from the product of Bernoullis given at least one edge (the first edge ``i`` with
    probability ``q_i prod_{k<i} (1 - q_k)``, the pairs after it independently).

    Parameters
    ----------
    adj
        (B, L, L) symmetric 0/1 adjacency, drawn from ``prob`` on ``pairs``.
    prob
        (B, L, L) edge probability of each pair ``i < j`` (upper triangle).
    pairs
        (B, L, L) bool mask of the candidate pairs ``i < j`` (upper triangle).
    nodes
        (B, L) bool: only these nodes may be redrawn (None: every node). Given the nodes
        cut off from node 0, the result is connected (each cut-off piece's first node
        joins an earlier node, and by induction on the order every earlier node already
        reaches node 0) while a node that reaches node 0 keeps its draw.

    Returns
    -------
    (adjacency, redrawn): the conditioned symmetric adjacency (same dtype as ``adj``) and
    the (B, L) bool mask of the nodes whose earlier pairs were redrawn.
    """
    cand = pairs.bool()
    up = adj.bool() & cand
    redrawn = cand.any(1) & ~up.any(1)  # (B, L) over the later node j
    if nodes is not None:
        redrawn &= nodes.bool()
    if not bool(redrawn.any()):
        return adj, redrawn
    q = torch.where(cand, prob.double().clamp(1e-12, 1 - 1e-12), 0.0)
    log_none = torch.log1p(-q)
    before = log_none.cumsum(1) - log_none  # log prod_{k<i} (1 - q_k), per column j
    first = sample_categorical((q * before.exp()).transpose(1, 2), generator)  # (B, L)
    u = torch.rand(q.shape, generator=generator, device=q.device, dtype=q.dtype)
    rows = torch.arange(q.shape[1], device=q.device)[None, :, None]
    f = first[:, None, :]
    col = cand & ((rows == f) | ((rows > f) & (u < q)))
    up = torch.where(redrawn[:, None, :], col, up)
    return (up | up.transpose(1, 2)).to(adj.dtype), redrawn


def parent_targets(adj: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """(B, L) index of each node's parent: its earliest earlier neighbour among the
    candidate ``pairs`` (upper triangle, ``i < j``), -1 where it has none (node 0, padding).

    In the canonical breadth-first order this is the node's BFS parent."""
    up = adj.bool() & pairs.bool()
    has = up.any(1)
    first = up.to(torch.uint8).argmax(1)  # first True along i, per column j
    return torch.where(has, first, torch.full_like(first, -1))


def parent_log_probs(scores: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """(B, L, L) parent scores -> log ``P(parent of j = i)``, a softmax over each column's
    candidate pairs ``i < j``; non-candidates get about -1e9 (finite, so columns without
    candidates stay finite too)."""
    s = scores.double().masked_fill(~pairs.bool(), -1e9)
    return s.log_softmax(1)


def parent_nll(scores: torch.Tensor, adj: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the parent head over the nodes that have a parent.

    scores (B, L, L) parent scores (upper triangle used); adj (B, L, L) clean adjacency;
    pairs (B, L, L) bool candidate pairs ``i < j``."""
    tgt = parent_targets(adj, pairs)
    has = tgt >= 0
    lp = parent_log_probs(scores, pairs)
    picked = lp.gather(1, tgt.clamp_min(0)[:, None, :])[:, 0]  # (B, L)
    return -(picked * has).sum() / has.sum().clamp_min(1)


def draw_with_parents(
    prob: torch.Tensor,
    scores: torch.Tensor,
    pairs: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw a clean adjacency in which every node with candidate pairs has an earlier
    neighbour: its parent from the parent head, the rest of its earlier pairs given it.

    The parent ``p`` of node ``j`` is drawn from ``pi_j = softmax_i(scores[i, j])`` over the
    candidates ``i < j``; pairs before it are empty (the parent is the earliest earlier
    neighbour) and each pair after it is an edge with ``P(e_ij | p < i)``. With the edge
    marginal ``q_ij = pi_ij + P(p < i) P(e_ij | p < i)`` (the pairs after the parent drawn
    independently of which earlier node it is) that conditional is
    ``(q_ij - pi_ij) / sum_{k<i} pi_kj``, clipped to [0, 1]; the draw then keeps the edge
    marginals ``q`` wherever the two heads agree. Every node after the first of a web is
    joined to an earlier one, so the drawn graph is connected.

    Parameters
    ----------
    prob
        (B, L, L) edge probability ``q_ij`` of each pair ``i < j`` (upper triangle).
    scores
        (B, L, L) parent scores (upper triangle; the parent head's logits).
    pairs
        (B, L, L) bool candidate pairs ``i < j``.

    Returns
    -------
    (adjacency, parent): the symmetric bool adjacency (B, L, L) and each node's parent
    (B, L), -1 where a node has no candidates.
    """
    cand = pairs.bool()
    has = cand.any(1)  # (B, L) nodes j with earlier candidates
    pi = parent_log_probs(scores, cand).exp() * cand
    parent = sample_categorical(pi.transpose(1, 2), generator)  # (B, L) row index per column
    q = prob.double().clamp(0, 1) * cand
    before = pi.cumsum(1) - pi  # P(p < i)
    cond = ((q - pi) / before.clamp_min(1e-12)).clamp(0, 1)
    u = torch.rand(q.shape, generator=generator, device=q.device, dtype=q.dtype)
    rows = torch.arange(q.shape[1], device=q.device)[None, :, None]
    f = parent[:, None, :]
    up = cand & has[:, None, :] & ((rows == f) | ((rows > f) & (u < cond)))
    return up | up.transpose(1, 2), torch.where(has, parent, torch.full_like(parent, -1))


def parent_draw_count(scores: torch.Tensor, pairs: torch.Tensor):
    """The expected edge count of :func:`draw_with_parents` as a function of the edge
    probabilities, for tilting them to a requested total.

    Node ``j`` gets its parent (probability ``pi_ij``) and each pair after it with
    ``(q_ij - pi_ij) / P(p < i)`` clipped to [0, 1], so its expected number of earlier
    edges is ``sum_i pi_ij + clip(q_ij - pi_ij, 0, P(p < i))``: ``sum_i q_ij`` where the
    two heads agree, more where the parent law is surer than ``q``. Returns a function
    ``q (B, L, L) -> (B,)`` expected edges per sample.
    """
    cand = pairs.bool()
    has = cand.any(1, keepdim=True)
    pi = parent_log_probs(scores, cand).exp() * cand * has
    before = pi.cumsum(1) - pi

    def count(q: torch.Tensor) -> torch.Tensor:
        q = q.double() * cand
        extra = torch.minimum((q - pi).clamp_min(0.0), before)
        return (pi + extra * has).sum((1, 2))

    return count
