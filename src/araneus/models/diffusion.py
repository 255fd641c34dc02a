"""Continuous diffusion math (EDM, Karras et al. 2022), kept apart from any network.

Everything here works on plain tensors: preconditioning coefficients, the log-normal
training noise distribution, the Karras sigma schedule, a deterministic Heun sampler
(with an optional stochastic "churn" for diversity), a DPM-Solver++(2M) multistep sampler
(one network evaluation per step), an ancestral Euler sampler,
classifier-free-guidance combination and masked losses.

A *denoiser* is any callable ``denoise(x, sigma) -> x0_hat`` where ``x`` has shape
(B, ...) and ``sigma`` shape (B,); it returns the estimate of the clean sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import ConfigError

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Sampler names: "heun" (EDM 2nd order, 2 n - 1 evaluations, optional churn), "dpmpp"
#: (DPM-Solver++(2M), n evaluations), "ancestral" (Euler ancestral, stochastic).
SAMPLERS = ("heun", "dpmpp", "ancestral")


@dataclass(frozen=True)
class EDMConfig:
    """EDM noise settings (dimensionless: data are normalised to roughly unit scale).

    Attributes
    ----------
    sigma_data : standard deviation of the clean data.
    sigma_min, sigma_max : range of the sampling schedule.
    rho : Karras schedule curvature.
    p_mean, p_std : log-normal training noise, ``ln sigma ~ N(p_mean, p_std^2)``.
    """

    sigma_data: float = 0.5
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    p_mean: float = -1.2
    p_std: float = 1.2

    def __post_init__(self) -> None:
        if not (0 < self.sigma_min < self.sigma_max):
            raise ConfigError(
                f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}"
            )
        if self.sigma_data <= 0 or self.rho <= 0 or self.p_std <= 0:
            raise ConfigError("sigma_data, rho and p_std must be positive")
        # data are normalised to about unit scale: far outside these, float32 sampling
        # under- or overflows
        if not (1e-3 <= self.sigma_data <= 1e3 and self.sigma_min >= 1e-6 and self.sigma_max <= 1e5):
            raise ConfigError(
                "need sigma_data in [1e-3, 1e3], sigma_min >= 1e-6 and sigma_max <= 1e5 (data "
                f"are normalised to unit scale), got {self.sigma_data}, {self.sigma_min}, "
                f"{self.sigma_max}"
            )
        if not (self.rho <= 100 and self.p_std <= 10 and abs(self.p_mean) <= 20):
            raise ConfigError("need rho <= 100, p_std <= 10 and |p_mean| <= 20")


def precondition(
    sigma: torch.Tensor, sigma_data: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """EDM preconditioning coefficients for noise levels ``sigma`` (B,).

    Returns ``(c_skip, c_out, c_in, c_noise)``, each (B,), so that the denoiser is
    ``D(x) = c_skip x + c_out F(c_in x, c_noise)`` for a raw network ``F``.
    """
    sd2 = sigma_data**2
    s2 = sigma**2
    c_skip = sd2 / (s2 + sd2)
    c_out = sigma * sigma_data / (s2 + sd2).sqrt()
    c_in = 1.0 / (s2 + sd2).sqrt()
    c_noise = sigma.log() / 4.0
    return c_skip, c_out, c_in, c_noise


def loss_weight(sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """EDM loss weight ``(sigma^2 + sigma_data^2) / (sigma sigma_data)^2`` (B,)."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def training_sigma(
    n: int, cfg: EDMConfig, generator: torch.Generator | None = None, device=None
) -> torch.Tensor:
    """Draw ``n`` training noise levels from the log-normal distribution of ``cfg``."""
    z = torch.randn(n, generator=generator, device=device)
    return (cfg.p_mean + cfg.p_std * z).exp()


def karras_sigmas(
    steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0, device=None
) -> torch.Tensor:
    """Karras et al. noise schedule: ``steps`` decreasing sigmas followed by a final 0.

    Returns a (steps + 1,) float tensor.
    """
    if steps < 1:
        raise ConfigError(f"sampling steps must be >= 1, got {steps}")
    ramp = torch.linspace(0, 1, steps, device=device, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    s = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([s, s.new_zeros(1)]).float()


def cfg_combine(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: ``uncond + scale (cond - uncond)`` (scale 1 = conditional)."""
    return uncond + scale * (cond - uncond)


def heun_sample(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    churn: float = 0.0,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """EDM second-order (Heun) sampler; deterministic when ``churn == 0``.

    Parameters
    ----------
    denoise
        ``denoise(x, sigma) -> x0_hat``.
    x
        (B, ...) initial sample, already scaled by ``sigmas[0]``.
    sigmas
        (n + 1,) decreasing noise levels ending in 0 (see :func:`karras_sigmas`).
    churn
        EDM ``S_churn`` (total over the schedule); > 0 adds fresh noise each step
        (stochastic sampling, more diverse samples).
    callback
        Called as ``callback(i, x0_hat, x_next)`` after each step.

    Uses ``2 n - 1`` network evaluations (the last step is Euler).
    """
    n = len(sigmas) - 1
    gamma_max = min(churn / max(n, 1), 2**0.5 - 1)
    b = x.shape[0]
    for i in range(n):
        s_cur, s_next = float(sigmas[i]), float(sigmas[i + 1])
        if churn > 0:
            s_hat = s_cur * (1 + gamma_max)
            eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x + (s_hat**2 - s_cur**2) ** 0.5 * eps
            s_cur = s_hat
        x0 = denoise(x, x.new_full((b,), s_cur))
        d = (x - x0) / s_cur
        x_next = x + (s_next - s_cur) * d
        if s_next > 0:
            x0_2 = denoise(x_next, x.new_full((b,), s_next))
            d2 = (x_next - x0_2) / s_next
            x_next = x + (s_next - s_cur) * 0.5 * (d + d2)
        if callback is not None:
            callback(i, x0, x_next)
        x = x_next
    return x


def dpmpp_2m_step(
    x: torch.Tensor,
    x0: torch.Tensor,
    prev_x0: torch.Tensor | None,
    s_prev: float | None,
    s_cur: float,
    s_next: float,
) -> torch.Tensor:
    """One DPM-Solver++(2M) step (Lu et al. 2022) in the EDM parameterisation.

    ``x`` at ``s_cur`` with denoised estimate ``x0``; ``prev_x0`` / ``s_prev`` are those of
    the previous step (None on the first step, which is then first order). Works in
    ``lambda = -log sigma``; the step to ``s_next == 0`` returns ``x0``.
    """
    if s_next == 0:
        return x0
    h = math.log(s_cur / s_next)
    d = x0
    if prev_x0 is not None and s_prev is not None:
        r = math.log(s_prev / s_cur) / h
        d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev_x0
    return (s_next / s_cur) * x - math.expm1(-h) * d


def dpmpp_sample(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
) -> torch.Tensor:
    """Deterministic DPM-Solver++(2M) multistep sampler: second order from the second
    step on, with ONE network evaluation per step (``n`` for ``n`` steps, against
    ``2 n - 1`` for :func:`heun_sample`).

    ``x`` (B, ...) is already scaled by ``sigmas[0]``; ``sigmas`` (n + 1,) end in 0.
    """
    b = x.shape[0]
    prev = s_prev = None
    for i in range(len(sigmas) - 1):
        s_cur, s_next = float(sigmas[i]), float(sigmas[i + 1])
        x0 = denoise(x, x.new_full((b,), s_cur))
        x = dpmpp_2m_step(x, x0, prev, s_prev, s_cur, s_next)
        prev, s_prev = x0, s_cur
    return x


def ancestral_step(
    x: torch.Tensor,
    x0: torch.Tensor,
    s_cur: float,
    s_next: float,
    *,
    eta: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One Euler-ancestral step from ``s_cur`` to ``s_next`` given the denoised ``x0``:
    a deterministic move down to ``s_down`` then fresh noise ``s_up`` (``s_down^2 +
    s_up^2 = s_next^2``); the step to ``s_next == 0`` returns ``x0``."""
    if s_next == 0:
        return x0
    s_up = min(s_next, eta * (s_next**2 * (s_cur**2 - s_next**2) / s_cur**2) ** 0.5)
    s_down = (s_next**2 - s_up**2) ** 0.5
    x = x + (s_down - s_cur) * (x - x0) / s_cur
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + s_up * eps


def ancestral_sample(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    eta: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Euler-ancestral sampler (stochastic; one network evaluation per step)."""
    b = x.shape[0]
    for i in range(len(sigmas) - 1):
        s_cur, s_next = float(sigmas[i]), float(sigmas[i + 1])
        x0 = denoise(x, x.new_full((b,), s_cur))
        x = ancestral_step(x, x0, s_cur, s_next, eta=eta, generator=generator)
    return x


def masked_mse(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared error over the entries where ``mask`` is true.

    ``pred``/``target`` are (B, L, C); ``mask`` is (B, L) (or broadcastable); ``weight``
    an optional per-sample (B,) weight. Padding never contributes.
    """
    m = mask.to(pred.dtype)
    while m.dim() < pred.dim():
        m = m.unsqueeze(-1)
    err = ((pred - target) ** 2 * m).flatten(1).sum(1)
    count = (m.expand_as(pred)).flatten(1).sum(1).clamp_min(1)
    per = err / count
    if weight is not None:
        per = per * weight
    return per.mean()


def edge_vector_mse(
    pred: torch.Tensor,
    target: torch.Tensor,
    edges: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared error of the edge vectors ``p_i - p_j`` over the edges of each sample.

    ``pred``/``target`` (B, L, 3) positions, ``edges`` (B, L, L) 0/1 (each edge once),
    ``weight`` an optional per-sample (B,) weight. Where :func:`masked_mse` scores each
    node against its own clean position, this scores each edge against its clean vector,
    so errors that leave the nodes near their places but a thread's segments of the wrong
    length or direction (the quantities the edge-mean features average) count in full.
    """
    w = edges.to(pred.dtype)
    err = (pred[:, :, None] - pred[:, None]) - (target[:, :, None] - target[:, None])
    per = (err.pow(2).sum(-1) * w).sum((1, 2)) / w.sum((1, 2)).clamp_min(1)
    if weight is not None:
        per = per * weight
    return per.mean()


def edm_denoiser(
    raw: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], sigma_data: float
) -> Denoiser:
    """Wrap a raw network ``raw(c_in x, c_noise)`` into the EDM denoiser ``D(x, sigma)``."""

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        c_skip, c_out, c_in, c_noise = precondition(sigma, sigma_data)
        shape = (-1,) + (1,) * (x.dim() - 1)
        out = raw(c_in.view(shape) * x, c_noise)
        return c_skip.view(shape) * x + c_out.view(shape) * out

    return denoise
