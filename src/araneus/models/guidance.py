"""Feature guidance: steering a sampler's clean estimate toward requested features.

Math only, on plain tensors (no networks). The generative models condition on named
features; some of them have a differentiable definition on a web's positions and edges.
This module holds those definitions and the guidance steps that use them:

* :data:`EDGE_MEAN_FEATURES`: features that are the mean over edges of a function of the
  edge vector (``mean_edge_length``, ``mean_abs_dx/dy/dz``). They are homogeneous of
  degree one in the positions, so a request is met in any length unit once it is
  expressed in that unit. A model conditioned on a feature not listed here (e.g. a
  mechanical descriptor) still takes it as a condition; only the guidance skips it, so
  adding features to a dataset needs no change here or in the models.
* :func:`edge_feature_means`: those features of a batch of webs given soft or hard edge
  weights (B, L, L).
* :func:`feature_guidance`: a damped Gauss-Newton step of the positions of a clean
  estimate toward the requested features: the smallest change of the positions that
  meets them to first order, scaled by ``strength`` (in [0, 1]). Applied to every
  sampling step's clean estimate (as the backward guidance of Bansal et al., "Universal
  Guidance for Diffusion Models", 2023, and the clean-estimate guidance of He et al.,
  "Manifold Preserving Guided Diffusion", ICLR 2024, with the loss gradient taken on the
  clean estimate rather than through the network, as in DPS, Chung et al., ICLR 2023), so
  the network denoises the next step from a state that moves toward the request.
* :func:`tilt_edge_probs`: the discrete analogue for an edge total: one logit shift per
  sample so that the expected number of edges of a clean edge estimate equals the
  requested total (an exponential tilt of the factorised edge distribution, the
  maximum-entropy change that meets the expectation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

#: Edge-mean features: name -> per-edge value of the edge vector (..., 3) -> (...).
#: ``eps`` (a small length) smooths the absolute value so its gradient exists at 0.
EDGE_MEAN_FEATURES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "mean_edge_length": lambda d, eps: (d.pow(2).sum(-1) + eps**2).sqrt(),
    "mean_abs_dx": lambda d, eps: (d[..., 0] ** 2 + eps**2).sqrt(),
    "mean_abs_dy": lambda d, eps: (d[..., 1] ** 2 + eps**2).sqrt(),
    "mean_abs_dz": lambda d, eps: (d[..., 2] ** 2 + eps**2).sqrt(),
}


def guided_features(names: Sequence[str]) -> list[str]:
    """The names among ``names`` that have a differentiable definition here, in order."""
    return [n for n in names if n in EDGE_MEAN_FEATURES]


def edge_feature_means(
    pos: torch.Tensor, weights: torch.Tensor, names: Sequence[str], eps: float = 1e-4
) -> torch.Tensor:
    """Edge-mean features (B, F) of webs with positions (B, L, 3) and edge weights
    (B, L, L) (0/1 or probabilities; each undirected edge counted once, e.g. the upper
    triangle). A web without edge weight gets 0."""
    d = pos[:, :, None, :] - pos[:, None, :, :]
    w = weights.to(pos.dtype)
    tot = w.sum((1, 2)).clamp_min(1e-12)
    cols = [(EDGE_MEAN_FEATURES[n](d, eps) * w).sum((1, 2)) / tot for n in names]
    return torch.stack(cols, -1) if cols else pos.new_zeros(pos.shape[0], 0)


def feature_guidance(
    pos: torch.Tensor,
    weights: torch.Tensor,
    names: Sequence[str],
    target: torch.Tensor,
    present: torch.Tensor,
    strength: float = 0.5,
    damping: float = 1e-3,
    max_log_error: float = 0.5,
    max_move: float = 0.5,
) -> torch.Tensor:
    """One damped Gauss-Newton step of ``pos`` toward the requested edge-mean features.

    Parameters
    ----------
    pos
        (B, L, 3) positions of a clean estimate (any length unit).
    weights
        (B, L, L) edge weights, held fixed (each undirected edge once).
    names
        F feature names, each a key of :data:`EDGE_MEAN_FEATURES`.
    target
        (B, F) requested values in the unit of ``pos`` (positive where present).
    present
        (B, F) bool, which features were requested.
    strength
        Fraction of the first-order correction applied, in [0, 1].
    damping
        Levenberg-Marquardt damping of the (F, F) normal matrix, relative to its trace.
    max_log_error, max_move
        Trust region: residuals are clipped to +-``max_log_error`` and a sample's step is
        shortened so that its root-mean-square node move is at most ``max_move`` times its
        (weighted) mean edge length. A clean estimate whose edges are still changing
        (early steps, or a pointer about to move) then cannot be thrown far.

    Returns
    -------
    (B, L, 3) guided positions: ``pos - strength J^T (J J^T + lambda)^-1 r`` with the
    residuals ``r = log m(pos) - log target`` of the requested features and their
    Jacobian ``J`` with respect to the positions: the smallest change of the positions
    (in the least-squares sense) that zeroes the log errors to first order. Samples with
    nothing requested (or no edges) are returned unchanged.
    """
    if not names or strength <= 0:
        return pos
    b = pos.shape[0]
    present = present & (target > 0)
    has_edges = weights.flatten(1).sum(1) > 0
    active = present.any(1) & has_edges
    if not bool(active.any()):
        return pos
    scale = pos.detach().flatten(1).abs().amax(1).clamp_min(1e-9)  # (B,) for the smoothing
    with torch.enable_grad():
        p = pos.detach().double().requires_grad_(True)
        eps = float(scale.min()) * 1e-4
        m = edge_feature_means(p, weights.detach().double(), names, eps)
        logm = m.clamp_min(1e-30).log()
        jac = []
        for f in range(len(names)):
            (g,) = torch.autograd.grad(logm[:, f].sum(), p, retain_graph=f < len(names) - 1)
            jac.append(g.flatten(1))
    J = torch.stack(jac, 1) * present[..., None]  # (B, F, 3L): rows of absent features 0
    r = torch.where(present, logm.detach() - target.double().clamp_min(1e-30).log(), 0.0)
    r = r.clamp(-max_log_error, max_log_error)
    G = J @ J.transpose(1, 2)
    tr = G.diagonal(dim1=1, dim2=2).sum(-1).clamp_min(1e-30)  # (B,)
    eye = torch.eye(len(names), dtype=G.dtype, device=G.device)
    G = G + eye * (damping * tr)[:, None, None] + eye * (~present)[:, :, None]
    step = (J.transpose(1, 2) @ torch.linalg.solve(G, r[..., None]))[..., 0]  # (B, 3L)
    step = torch.where(active[:, None], step, 0.0).view(b, *pos.shape[1:]) * strength
    moving = (step.pow(2).sum(-1) > 0).sum(1).clamp_min(1)  # nodes that move
    rms = (step.pow(2).sum((1, 2)) / moving).sqrt()
    length = edge_feature_means(pos.detach().double(), weights.detach().double(),
                                ["mean_edge_length"])[:, 0]  # fmt: skip
    shrink = (max_move * length / rms.clamp_min(1e-30)).clamp(max=1.0)
    return (pos.double() - step * shrink[:, None, None]).to(pos.dtype)


def tilt_edge_probs(
    probs: torch.Tensor, pairs: torch.Tensor, target: torch.Tensor, iters: int = 30
) -> torch.Tensor:
    """Shift the edge logits of each sample by one constant so that the expected edge
    count ``sum(probs * pairs)`` equals ``target`` (B,) (NaN or negative: unchanged).

    ``probs`` (B, L, L) clean edge probabilities, ``pairs`` (B, L, L) bool candidate
    pairs (each undirected pair once). The shift is found by bisection on the logit
    (the expected count is increasing in it), within +-20. Returns the tilted
    probabilities (0 outside ``pairs``).
    """
    p = probs.double().clamp(1e-9, 1 - 1e-9)
    logit = (p / (1 - p)).log()
    pf = pairs.to(p.dtype)
    n_pairs = pf.sum((1, 2))
    want = target.double()
    ok = torch.isfinite(want) & (want >= 0) & (n_pairs > 0)
    want = torch.where(ok, want.clamp(max=n_pairs), 0.0)
    lo = torch.full_like(want, -20.0)
    hi = torch.full_like(want, 20.0)
    for _ in range(iters):
        mid = (lo + hi) / 2
        count = (torch.sigmoid(logit + mid[:, None, None]) * pf).sum((1, 2))
        low = count < want
        lo = torch.where(low, mid, lo)
        hi = torch.where(low, hi, mid)
    shift = torch.where(ok, (lo + hi) / 2, 0.0)
    out = torch.sigmoid(logit + shift[:, None, None]) * pf
    return torch.where(ok[:, None, None], out, probs.double() * pf).to(probs.dtype)


def lookahead_log_potential(
    sums: torch.Tensor,
    edges: torch.Tensor,
    total: torch.Tensor,
    target: torch.Tensor,
    known: torch.Tensor,
    cv: float = 0.6,
    tol: float = 0.02,
) -> torch.Tensor:
    """Log of a Gaussian estimate of the chance that a web built so far ends with its
    edge-mean features at ``target``: the potential of feature guidance for a sampler
    that builds a web edge by edge (a twisted sequential Monte Carlo proposal).

    ``sums`` (..., B, F) per-edge values summed over the ``edges`` (B,) edges so far,
    ``total`` (B,) the expected number of edges of the finished web (NaN or below
    ``edges``: none left to come), ``target`` (B, F) requested means, ``known`` (B, F)
    bool. If the edges still to come are independent with the requested mean and a
    spread of ``cv`` times it, the finished mean misses the target by the deficit
    ``sums - edges * target`` divided by the total, with a variance of
    ``remaining (cv target)^2`` over the total squared; ``tol`` (relative) adds the
    tolerance of the request itself. Early in a web most edges are still to come and the
    potential is flat; at the end it asks for the target within ``tol``.
    Returns (..., B).
    """
    tot = torch.where(torch.isfinite(total), total, edges).to(sums.dtype)
    tot = torch.maximum(tot, edges.to(sums.dtype))
    deficit = sums - edges.to(sums.dtype)[:, None] * target
    remaining = (tot - edges.to(sums.dtype))[:, None]
    var = remaining * (cv * target) ** 2 + (tol * target * tot[:, None].clamp_min(1)) ** 2
    return -(deficit**2 / (2 * var.clamp_min(1e-12)) * known).sum(-1)
