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


def _abs_axis_gradient(axis: int) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """Gradient of the smoothed ``|d[axis]|`` with respect to the edge vector d."""

    def grad(d: torch.Tensor, eps: float) -> torch.Tensor:
        out = torch.zeros_like(d)
        c = d[..., axis]
        out[..., axis] = c / (c**2 + eps**2).sqrt()
        return out

    return grad


#: Their gradients with respect to the edge vector (..., 3), where known in closed form
#: (a feature without one is differentiated by autograd).
EDGE_MEAN_GRADIENTS: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "mean_edge_length": lambda d, eps: d / (d.pow(2).sum(-1, keepdim=True) + eps**2).sqrt(),
    "mean_abs_dx": _abs_axis_gradient(0),
    "mean_abs_dy": _abs_axis_gradient(1),
    "mean_abs_dz": _abs_axis_gradient(2),
}


def guided_features(names: Sequence[str]) -> list[str]:
    """The names among ``names`` that have a differentiable definition here, in order."""
    return [n for n in names if n in EDGE_MEAN_FEATURES]


EdgeList = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def dense_edges(weights: torch.Tensor, band: int = 0, upper: bool = False) -> EdgeList:
    """(B, L, L) edge weights (each undirected edge once, in either triangle) -> an edge
    list ``(src (B, E), dst (B, E), w (B, E))`` over the pairs ``i != j`` (``upper``: only
    ``i < j``; with ``band`` > 0 only ``|i - j| <= band``): the form
    :func:`feature_guidance` works on, whose cost grows with the number of pairs listed."""
    b, L, _ = weights.shape
    i, j = torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")
    keep = (i < j) if upper else (i != j)
    if band > 0:
        keep &= (i - j).abs() <= band
    i, j = i[keep].to(weights.device), j[keep].to(weights.device)
    return i.expand(b, -1), j.expand(b, -1), weights[:, i, j]


def edge_vectors(pos: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """(B, E, 3) vectors ``pos[src] - pos[dst]`` of an edge list over (B, L, 3) positions."""
    idx = lambda e: e[..., None].expand(*e.shape, 3)  # noqa: E731
    return pos.gather(1, idx(src)) - pos.gather(1, idx(dst))


def list_feature_means(
    d: torch.Tensor, w: torch.Tensor, names: Sequence[str], eps: float = 1e-4
) -> torch.Tensor:
    """Edge-mean features (B, F) of edge vectors ``d`` (B, E, 3) with weights ``w`` (B, E);
    a web without edge weight gets 0."""
    w = w.to(d.dtype)
    tot = w.sum(1).clamp_min(1e-12)
    cols = [(EDGE_MEAN_FEATURES[n](d, eps) * w).sum(1) / tot for n in names]
    return torch.stack(cols, -1) if cols else d.new_zeros(d.shape[0], 0)


def edge_feature_means(
    pos: torch.Tensor, weights: torch.Tensor, names: Sequence[str], eps: float = 1e-4
) -> torch.Tensor:
    """Edge-mean features (B, F) of webs with positions (B, L, 3) and edge weights
    (B, L, L) (0/1 or probabilities; each undirected edge counted once, e.g. the upper
    triangle). A web without edge weight gets 0."""
    src, dst, w = dense_edges(weights)
    return list_feature_means(edge_vectors(pos, src, dst), w, names, eps)


def feature_guidance(
    pos: torch.Tensor,
    edges: torch.Tensor | EdgeList,
    names: Sequence[str],
    target: torch.Tensor,
    present: torch.Tensor,
    strength: float = 0.5,
    damping: float = 1e-3,
    max_log_error: float = 0.5,
    max_move: float = 0.5,
) -> torch.Tensor:
    """One damped Gauss-Newton step of ``pos`` toward the requested edge-mean features.

    The step is taken on the edge vectors ``d_e = p_src - p_dst``: the smallest change of
    the edge vectors in the metric ``sum_e w_e |delta d_e|^2 / |d_e|`` that zeroes the log
    errors of the requested features to first order, then the positions whose edge
    vectors come closest to the changed ones (a weighted graph-Laplacian solve; exact on a
    tree). In that metric a requested mean length is met by scaling every edge by the same
    factor, which keeps the shape of the web's edge-length distribution, and a requested
    mean ``|dx|`` changes each edge's x component in proportion to its length. A step in
    position space instead (the plain gradient) would move only the loose ends of a
    thread, whose inner nodes feel opposite pulls.

    Parameters
    ----------
    pos
        (B, L, 3) positions of a clean estimate (any length unit).
    edges
        The edges, held fixed: (B, L, L) weights (each undirected edge once; 0/1 or
        probabilities) or an edge list ``(src, dst, w)`` of (B, E) tensors
        (:func:`dense_edges`; padding entries with weight 0).
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
        Trust region: residuals are clipped to +-``max_log_error``, and a sample's step is
        shortened so that the root-mean-square relative change of its edge vectors is at
        most ``max_move``. A clean estimate whose edges are still changing (early steps,
        or a pointer about to move) then cannot be thrown far.

    Returns
    -------
    (B, L, 3) guided positions. Samples with nothing requested (or no edges) are
    returned unchanged.
    """
    if not names or strength <= 0:
        return pos
    b, L, _ = pos.shape
    src, dst, w = dense_edges(edges) if isinstance(edges, torch.Tensor) else edges
    w = w.detach().double()
    w = torch.where(w > 0, w, 0.0)
    present = present & (target > 0)
    active = present.any(1) & (w.sum(1) > 0)
    if not bool(active.any()):
        return pos
    p = pos.detach().double()
    eps = float(p.flatten(1).abs().amax(1).clamp_min(1e-9).min()) * 1e-4
    d = edge_vectors(p, src, dst)  # (B, E, 3)
    m = list_feature_means(d, w, names, eps).clamp_min(1e-30)
    logm = m.log()
    tot = w.sum(1).clamp_min(1e-12)
    jac = []  # d log m_f / d d_e, each (B, E, 3), proportional to the edge weight
    for f, name in enumerate(names):
        if name in EDGE_MEAN_GRADIENTS:
            g = EDGE_MEAN_GRADIENTS[name](d, eps)
        else:
            with torch.enable_grad():
                dv = d.clone().requires_grad_(True)
                (g,) = torch.autograd.grad(EDGE_MEAN_FEATURES[name](dv, eps).sum(), dv)
        jac.append(g * (w / (tot[:, None] * m[:, f : f + 1]))[..., None])
    jd = torch.stack(jac, 1) * present[:, :, None, None]  # (B, F, E, 3)
    dn = d.pow(2).sum(-1).sqrt()
    # inverse metric |d_e| / w_e: a length request then scales every edge alike
    inv = torch.where(w > 0, dn / w.clamp_min(1e-12), 0.0)[:, None, :, None]
    mj = inv * jd  # M^-1 J^T per feature
    G = torch.einsum("bfec,bhec->bfh", jd, mj)
    r = torch.where(present, logm.detach() - target.double().clamp_min(1e-30).log(), 0.0)
    r = r.clamp(-max_log_error, max_log_error)
    tr = G.diagonal(dim1=1, dim2=2).sum(-1).clamp_min(1e-30)
    eye = torch.eye(len(names), dtype=G.dtype, device=G.device)
    G = G + eye * (damping * tr)[:, None, None] + eye * (~present)[:, :, None]
    lam = torch.linalg.solve(G, r[..., None])[..., 0]  # (B, F)
    dd = -strength * torch.einsum("bf,bfec->bec", lam, mj)  # change of each edge vector
    rel2 = torch.where(w > 0, dd.pow(2).sum(-1) / dn.pow(2).clamp_min(1e-30), 0.0)
    rms = ((rel2 * w).sum(1) / tot).sqrt()
    dd = dd * (max_move / rms.clamp_min(1e-30)).clamp(max=1.0)[:, None, None]
    # positions whose edge vectors come closest: L dp = sum over edges of +-w dd
    lap = torch.zeros(b, L * L, dtype=p.dtype, device=p.device)
    for a, c, sign in ((src, src, 1.0), (dst, dst, 1.0), (src, dst, -1.0), (dst, src, -1.0)):
        lap.scatter_add_(1, a * L + c, sign * w)
    lap = lap.view(b, L, L)
    rhs = torch.zeros(b, L, 3, dtype=p.dtype, device=p.device)
    wd = w[..., None] * dd
    rhs.scatter_add_(1, src[..., None].expand(-1, -1, 3), wd)
    rhs.scatter_add_(1, dst[..., None].expand(-1, -1, 3), -wd)
    ridge = 1e-6 * (2 * tot / L)[:, None, None]
    dp = torch.linalg.solve(lap + ridge * torch.eye(L, dtype=p.dtype, device=p.device), rhs)
    dp = torch.where(active[:, None, None], dp, 0.0)
    return (p + dp).to(pos.dtype)


def tilt_edge_probs(
    probs: torch.Tensor,
    pairs: torch.Tensor,
    target: torch.Tensor,
    iters: int = 30,
    count: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Shift the edge logits of each sample by one constant so that the expected edge
    count ``sum(probs * pairs)`` equals ``target`` (B,) (NaN or negative: unchanged).
    ``count`` (optional) replaces that sum by the expected count of the draw that will
    use the probabilities (any function increasing in them, (B, L, L) -> (B,)).

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
    if count is None:
        count = lambda q: (q * pf).sum((1, 2))  # noqa: E731
    for _ in range(iters):
        mid = (lo + hi) / 2
        low = count(torch.sigmoid(logit + mid[:, None, None]) * pf) < want
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
