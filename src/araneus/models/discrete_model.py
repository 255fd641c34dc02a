"""Model 2: joint diffusion of positions (Gaussian EDM) and adjacency (categorical D3PM).

Positions follow the same EDM diffusion as model 1, scale-free (divided by the web's
mean edge length; see ``sparse.py``), so the pairwise distances the network sees are in
units of the typical thread length at every web size. The adjacency is a genuinely discrete
diffusion: each node pair is a two-class variable (no edge / edge) corrupted by the
marginal-preserving transitions of DiGress (``discrete.py``), so a noised graph is a random
graph with the training edge density and sampling starts from one. A graph transformer
with a dense edge stream (``nets.GraphTransformer``) sees noisy positions, the noisy
adjacency and pairwise distances, and predicts the clean positions (EDM-preconditioned) and
the clean edge probabilities. Sampling runs both chains jointly: a Heun step for positions
and a posterior step ``q(A_s | A_t, A0_hat)`` for the adjacency per sampling step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, InputError
from .base import TorchGenerator, check_common_config, mean_edge_lengths, register_model
from .conditioning import training_presence
from .decode import DecodeStats, decode_candidates
from .diffusion import (
    EDMConfig,
    karras_sigmas,
    loss_weight,
    masked_mse,
    precondition,
    training_sigma,
)
from .discrete import cosine_alpha_bar, posterior_probs, q_probs, sample_categorical
from .nets import GraphTransformer


@dataclass
class DiscreteConfig:
    """Settings of model 2; sizes fit a 2-core CPU budget."""

    width: int = 64
    edge_width: int = 16
    depth: int = 3
    heads: int = 4
    sigma_data: float = 0.5
    sigma_min: float = 0.002
    sigma_max: float = 20.0
    rho: float = 7.0
    p_mean: float = -1.2
    p_std: float = 1.2
    diffusion_steps: int = 500
    sample_steps: int = 16
    edge_weight: float = 5.0
    p_hide: float = 0.3
    p_uncond: float = 0.1
    scale_free: bool = True
    position_unit: float = 0.0
    exact: bool = True
    edge_density: float = 0.0

    def __post_init__(self) -> None:
        check_common_config(self.width, self.depth, self.heads, self.p_hide, self.p_uncond)
        if self.edge_width < 2:
            raise ConfigError(f"edge_width must be >= 2, got {self.edge_width}")
        if self.diffusion_steps < 2 or not 1 <= self.sample_steps <= self.diffusion_steps:
            raise ConfigError("need diffusion_steps >= 2 and 1 <= sample_steps <= diffusion_steps")
        if not 0 <= self.edge_density < 1 or self.edge_weight <= 0:
            raise ConfigError("edge_density must be in [0, 1) and edge_weight > 0")
        _ = self.edm

    @property
    def edm(self) -> EDMConfig:
        return EDMConfig(
            self.sigma_data, self.sigma_min, self.sigma_max, self.rho, self.p_mean, self.p_std
        )


def _pair_mask(mask: torch.Tensor) -> torch.Tensor:
    """(B, L) node mask -> (B, L, L) mask of real pairs i < j."""
    L = mask.shape[1]
    upper = torch.ones(L, L, dtype=torch.bool, device=mask.device).triu(1)
    return mask[:, :, None] & mask[:, None, :] & upper


def _symmetric_sample(probs: torch.Tensor, pairs: torch.Tensor, gen) -> torch.Tensor:
    """Draw an upper-triangle class per pair from (B, L, L, 2) probs; mirror; 0 elsewhere."""
    a = sample_categorical(probs, gen) * pairs
    return a | a.transpose(1, 2)


@register_model("discrete")
class DiscreteDiffusion(TorchGenerator):
    """Model 2: EDM positions + D3PM (marginal transitions) adjacency, graph transformer."""

    Config = DiscreteConfig

    def setup(self, data) -> None:
        if self.config.edge_density == 0.0:
            train = data.subset("train")
            n = np.asarray(train.mask).sum(1).astype(np.float64)
            e = (np.asarray(train.nbrs) >= 0).sum((1, 2)) / 2
            rho = float(e.sum() / max((n * (n - 1) / 2).sum(), 1))
            self.config = replace(self.config, edge_density=min(max(rho, 1e-4), 0.5))
        if self.config.scale_free and self.config.position_unit == 0.0:
            self.config = replace(self.config, position_unit=self.fit_position_unit(data))
        super().setup(data)

    def build_net(self) -> None:
        c = self.config
        self.net = GraphTransformer(
            3,
            3,
            3,
            2,
            self.max_nodes,
            c.width,
            c.edge_width,
            c.depth,
            c.heads,
            len(self.scaler.names),
        )
        self._abar = cosine_alpha_bar(c.diffusion_steps)
        self._m = torch.tensor([1 - c.edge_density, c.edge_density], dtype=torch.float64)

    def encode(self, data) -> dict:
        pos = np.asarray(data.pos, dtype=np.float64)
        mask = np.asarray(data.mask, dtype=bool)
        if pos.shape[1] != self.max_nodes or np.asarray(data.nbrs).shape[2] != self.max_degree:
            raise InputError("dataset shapes (L, K) differ from the model's")
        c = self.config
        if c.scale_free:
            unit = mean_edge_lengths(pos, np.asarray(data.nbrs)) * c.position_unit
        else:
            unit = np.full(len(pos), 2 * self.scaler.pos_scale)
        x = np.clip(pos / unit[:, None, None], -4, 4) * mask[..., None]
        return {
            "x": torch.as_tensor(x, dtype=torch.float32),
            "adj": torch.as_tensor(data.adjacency()),
            "mask": torch.as_tensor(mask),
            "cond": torch.as_tensor(
                self.scaler.normalise(np.asarray(data.features)), dtype=torch.float32
            ),
        }

    def _edge_input(self, xin: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(xin, xin)
        return torch.cat([F.one_hot(adj.long(), 2).to(xin.dtype), d[..., None]], -1)

    def _run(self, net, xn, sigma, adj, t, mask, values, present):
        """One denoiser call -> (x0_hat (B, L, 3), edge logits (B, L, L, 2))."""
        c_skip, c_out, c_in, c_noise = precondition(sigma, self.config.sigma_data)
        xin = c_in[:, None, None] * xn
        raw, logits = net(xin, self._edge_input(xin, adj), mask, c_noise, t, values, present)
        return c_skip[:, None, None] * xn + c_out[:, None, None] * raw, logits

    def training_loss(self, net, batch: dict, generator) -> torch.Tensor:
        c = self.config
        x0, adj0, mask, cond = batch["x"], batch["adj"], batch["mask"], batch["cond"]
        b, dev = x0.shape[0], x0.device
        sigma = training_sigma(b, c.edm, generator, dev)
        xn = x0 + sigma[:, None, None] * torch.randn(x0.shape, generator=generator, device=dev)
        xn = xn * mask[..., None]
        t = torch.randint(1, c.diffusion_steps + 1, (b,), generator=generator, device=dev)
        abar = self._abar.to(dev)[t]
        pairs = _pair_mask(mask)
        probs = q_probs(F.one_hot(adj0.long(), 2).double(), abar[:, None, None], self._m.to(dev))
        adj_t = _symmetric_sample(probs, pairs, generator)
        present = training_presence(b, cond.shape[1], c.p_hide, c.p_uncond, generator, dev)
        tt = t.float() / c.diffusion_steps
        x0_hat, logits = self._run(net, xn, sigma, adj_t, tt, mask, cond * present, present)
        pos_loss = masked_mse(x0_hat, x0, mask, loss_weight(sigma, c.sigma_data))
        ce = F.cross_entropy(logits.float().permute(0, 3, 1, 2), adj0.long(), reduction="none")
        pf = pairs.float()
        edge_loss = ((ce * pf).sum((1, 2)) / pf.sum((1, 2)).clamp_min(1)).mean()
        return pos_loss + c.edge_weight * edge_loss

    def generate(self, values, present, counts, guidance, steps, generator, lengths=None):
        c = self.config
        dev = values.device
        n, L = len(counts), self.max_nodes
        nsteps = steps or c.sample_steps
        nsteps = min(nsteps, c.diffusion_steps)
        mask = torch.arange(L, device=dev)[None, :] < torch.as_tensor(counts, device=dev)[:, None]
        pairs = _pair_mask(mask)
        sig = karras_sigmas(nsteps, c.sigma_min, c.sigma_max, c.rho, device=dev)
        tgrid = torch.linspace(c.diffusion_steps, 0, nsteps + 1).round().long()
        abar, m = self._abar.to(dev), self._m.to(dev)

        def den(x, s, adj, t):
            sigma = x.new_full((n,), s)
            tt = x.new_full((n,), float(t) / c.diffusion_steps)

            def call(v, p, reps):
                return self._run(
                    self.net, x.repeat(reps, 1, 1), sigma.repeat(reps), adj.repeat(reps, 1, 1),
                    tt.repeat(reps), mask.repeat(reps, 1), v, p,
                )  # fmt: skip

            x0, logits = self.cfg_net(call, values, present, guidance)
            return x0 * mask[..., None], logits

        x = torch.randn((n, L, 3), generator=generator, device=dev) * sig[0] * mask[..., None]
        adj = _symmetric_sample(m.expand(n, L, L, 2), pairs, generator)
        p_edge = torch.zeros(n, L, L, device=dev)
        for k in range(nsteps):
            s_cur, s_next = float(sig[k]), float(sig[k + 1])
            t_cur, t_next = int(tgrid[k]), int(tgrid[k + 1])
            x0, logits = den(x, s_cur, adj, t_cur)
            p0 = logits.double().softmax(-1)
            p_edge = p0[..., 1].float()
            post = posterior_probs(
                F.one_hot(adj.long(), 2).double(), p0, abar[t_cur], abar[t_next], m
            )
            adj_next = _symmetric_sample(post, pairs, generator)
            d = (x - x0) / s_cur
            x_next = x + (s_next - s_cur) * d
            if s_next > 0:
                x0b, _ = den(x_next, s_next, adj_next, t_next)
                x_next = x + (s_next - s_cur) * 0.5 * (d + (x_next - x0b) / s_next)
            x, adj = x_next, adj_next
        units = self.position_scales(lengths, n, c.scale_free, c.position_unit)
        targets = lens = None
        if c.exact:
            targets = self.edge_targets(values, present, counts)
            lens = units / c.position_unit if c.scale_free else None
        return self.decode(
            x.float().cpu().numpy(),
            adj.cpu().numpy(),
            p_edge.cpu().numpy(),
            np.asarray(counts),
            units,
            targets,
            lens,
        )

    def decode(
        self,
        x: np.ndarray,
        adj: np.ndarray,
        p_edge: np.ndarray,
        counts: np.ndarray,
        units: np.ndarray | None = None,
        n_edges: np.ndarray | None = None,
        mean_lengths: np.ndarray | None = None,
    ):
        """Raw positions (n, L, 3), sampled adjacency (n, L, L) and edge probabilities ->
        (webs, stats). Sampled edges are the candidates, scored by their probability.
        ``units`` (n,): physical length of one model position unit per sample.
        ``n_edges`` / ``mean_lengths`` (n,): constrained decoding (-1 / NaN = none), with
        the pairs not sampled as reserve candidates ranked by their probability."""
        if units is None:
            units = np.full(x.shape[0], 2 * self.scaler.pos_scale)
        total = DecodeStats()
        webs = []
        for b in range(x.shape[0]):
            i, j = np.nonzero(np.triu(adj[b], 1))
            score = np.nan_to_num(p_edge[b][i, j], nan=0.0) + 1e-3
            e = None if n_edges is None or n_edges[b] < 0 else int(n_edges[b])
            kw = {}
            if e is not None:
                cnt = int(counts[b])
                ei, ej = np.nonzero(np.triu(~adj[b, :cnt, :cnt].astype(bool), 1))
                kw = dict(extra_src=ei, extra_dst=ej,
                          extra_score=np.nan_to_num(p_edge[b][ei, ej], nan=0.0))  # fmt: skip
            web, st = decode_candidates(
                x[b],
                i,
                j,
                score,
                int(counts[b]),
                self.max_degree,
                scale=float(units[b]),
                n_edges=e,
                mean_length=None if mean_lengths is None else float(mean_lengths[b]),
                **kw,
            )
            webs.append(web)
            total.add(st)
        return webs, total
