"""Sampling math for autoregressive heads, kept apart from networks.

* Mixtures of diagonal Gaussians (3-D): parameter split, log-likelihood, sampling with a
  temperature and nucleus (top-p) filtering of the component choice.
* Bernoulli log-likelihood and tempered sampling from logits.
* Classifier-free guidance on logits lives in :func:`araneus.models.diffusion.cfg_combine`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_STD_MIN, LOG_STD_MAX = -7.0, 2.0


def split_mog(raw: torch.Tensor, m: int, dim: int = 3):
    """Split raw head outputs (..., m * (1 + 2 dim)) into (logits, mu, log_std).

    Shapes: logits (..., m), mu (..., m, dim), log_std (..., m, dim) clamped to a safe range.
    """
    logits = raw[..., :m]
    rest = raw[..., m:].reshape(*raw.shape[:-1], m, 2 * dim)
    mu, log_std = rest[..., :dim], rest[..., dim:]
    return logits, mu, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)


def mog_log_prob(logits: torch.Tensor, mu: torch.Tensor, log_std: torch.Tensor, x: torch.Tensor):
    """Log density of ``x`` (..., dim) under the mixture (logits (..., m), mu/log_std (..., m, dim))."""
    z = (x.unsqueeze(-2) - mu) * torch.exp(-log_std)
    dim = x.shape[-1]
    comp = -0.5 * (z**2).sum(-1) - log_std.sum(-1) - 0.5 * dim * math.log(2 * math.pi)
    return torch.logsumexp(F.log_softmax(logits, dim=-1) + comp, dim=-1)


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Set logits outside the smallest set with cumulative probability >= ``top_p`` to -inf."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    cum = probs.cumsum(-1)
    drop_sorted = (cum - probs) >= top_p  # keep at least the top entry
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def sample_mog(
    logits: torch.Tensor,
    mu: torch.Tensor,
    log_std: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one point per row from the mixture (rows = leading dims flattened).

    The temperature divides the component logits and multiplies the standard deviations by
    ``sqrt(temperature)``; ``temperature == 0`` picks the most likely component's mean.
    """
    lead = logits.shape[:-1]
    lg = logits.reshape(-1, logits.shape[-1])
    m_ = mu.reshape(lg.shape[0], lg.shape[1], -1)
    s_ = log_std.reshape_as(m_)
    rows = torch.arange(lg.shape[0], device=lg.device)
    if temperature <= 0:
        k = lg.argmax(-1)
        return m_[rows, k].reshape(*lead, -1)
    probs = top_p_filter(lg / temperature, top_p).softmax(-1)
    k = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    eps = torch.randn(m_[rows, k].shape, generator=generator, device=lg.device, dtype=m_.dtype)
    x = m_[rows, k] + math.sqrt(temperature) * torch.exp(s_[rows, k]) * eps
    return x.reshape(*lead, -1)


def bernoulli_log_prob(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Elementwise log p(target) for Bernoulli variables with the given logits."""
    return -F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none")


def sample_bernoulli(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Boolean samples; ``temperature`` divides the logits (0 = threshold at 0.5)."""
    if temperature <= 0:
        return logits > 0
    u = torch.rand(logits.shape, generator=generator, device=logits.device)
    return u < torch.sigmoid(logits / temperature)
