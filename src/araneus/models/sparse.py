"""Model 1: analog (Gaussian EDM) diffusion on the sparse neighbour representation.

Each node is a token ``[x, y, z, s_1..s_K]``: its position and K neighbour slots.
Positions are scale-free: divided by the web's mean edge length ``rho`` and by a fixed unit
(twice the training RMS of ``pos / rho``, so about 0.5 standard deviation). The training
webs span two orders of magnitude in size; without this a small web is a speck below the
sampler's noise floor. At sampling, ``rho`` is the requested ``mean_edge_length``, else
that of a training sample drawn near the other requested features (the shared prior that
also draws node counts). A slot holds the
signed offset ``j - i`` of a neighbour in the dataset's canonical (BFS) order divided by
the slot unit (``slot_unit``, default a quarter of the largest training offset ``B``, so
neighbouring offsets are 0.25 apart in value: with a unit of ``B`` they were 1/B apart
and the network only saw noise levels fine enough to separate them in ~3% of training
draws); offset 0 would be a self-loop, so the value 0 is reserved for an empty slot. Slots are sorted in ascending order. A transformer over node
tokens with adaLN conditioning denoises all channels jointly (EDM preconditioning,
log-normal training noise, Heun sampling). Decoding rounds each slot to an offset; each edge
is stated by both endpoints and scored by how close the slot values were to the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..errors import ConfigError, InputError
from .base import (
    TorchGenerator,
    check_common_config,
    max_canonical_offset,
    mean_edge_lengths,
    register_model,
)
from .conditioning import training_presence
from .decode import DecodeStats, decode_candidates
from .diffusion import (
    EDMConfig,
    ancestral_sample,
    edm_denoiser,
    heun_sample,
    karras_sigmas,
    loss_weight,
    masked_mse,
    training_sigma,
)
from .nets import NodeTransformer


@dataclass
class SparseConfig:
    """Settings of model 1 (see the module docstring); sizes fit a 2-core CPU budget."""

    width: int = 128
    depth: int = 4
    heads: int = 4
    sigma_data: float = 0.5
    sigma_min: float = 0.002
    sigma_max: float = 20.0
    rho: float = 7.0
    p_mean: float = -1.2
    p_std: float = 1.2
    sample_steps: int = 16
    sampler: str = "heun"
    churn: float = 0.0
    p_hide: float = 0.3
    p_uncond: float = 0.1
    scale_free: bool = True
    position_unit: float = 0.0
    exact: bool = True
    offset_range: int = 0
    slot_unit: float = 0.0

    def __post_init__(self) -> None:
        check_common_config(self.width, self.depth, self.heads, self.p_hide, self.p_uncond)
        if self.sampler not in ("heun", "ancestral"):
            raise ConfigError(f"sampler must be 'heun' or 'ancestral', got {self.sampler!r}")
        if self.sample_steps < 1 or self.offset_range < 0 or self.churn < 0:
            raise ConfigError("sample_steps >= 1, offset_range >= 0 and churn >= 0 required")
        if not (self.slot_unit >= 0 and np.isfinite(self.slot_unit)):
            raise ConfigError(f"slot_unit must be >= 0 (0: offset_range / 4), got {self.slot_unit}")
        _ = self.edm  # validates the noise settings

    @property
    def edm(self) -> EDMConfig:
        return EDMConfig(
            self.sigma_data, self.sigma_min, self.sigma_max, self.rho, self.p_mean, self.p_std
        )


def encode_slots(nbrs: np.ndarray, offset_range: float) -> np.ndarray:
    """(S, L, K) neighbour indices (-1 empty) -> (S, L, K) sorted slot values: offsets
    divided by ``offset_range`` (the slot unit)."""
    nb = np.asarray(nbrs, dtype=np.int64)
    idx = np.arange(nb.shape[1])[None, :, None]
    off = np.where(nb >= 0, nb - idx, 0).astype(np.float64)
    return np.sort(off / offset_range, axis=-1)


def decode_slots(slots: np.ndarray, offset_range: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L, K) raw slot values -> candidate (src, dst, confidence) arrays.

    NaN/inf slots and empty (rounded 0) slots give no candidate; confidence is
    ``1 - 2 |v B - round(v B)|`` in [0, 1].
    """
    v = np.asarray(slots, dtype=np.float64) * offset_range
    r = np.rint(np.where(np.isfinite(v), v, 0.0))
    conf = 1.0 - 2.0 * np.abs(np.where(np.isfinite(v), v, 0.0) - r)
    src = np.broadcast_to(np.arange(v.shape[0])[:, None], v.shape)
    sel = r != 0
    return src[sel], (src + r.astype(np.int64))[sel], conf[sel] + 1e-3


def second_offsets(slots: np.ndarray, offset_range: int):
    """Reserve candidates of (L, K) raw slots: the second-nearest integer offset of every
    slot, scored ``1 - |v B - r2|`` in [0, 0.5] (0 offsets give none)."""
    v = np.asarray(slots, dtype=np.float64) * offset_range
    v = np.where(np.isfinite(v), v, 0.0)
    r = np.rint(v)
    r2 = np.where(v >= r, r + 1, r - 1)
    score = 1.0 - np.abs(v - r2)
    src = np.broadcast_to(np.arange(v.shape[0])[:, None], v.shape)
    sel = r2 != 0
    return src[sel], (src + r2.astype(np.int64))[sel], score[sel]


@register_model("sparse")
class SparseDiffusion(TorchGenerator):
    """Model 1: EDM diffusion over ``[x, y, z, K neighbour slots]`` node tokens."""

    Config = SparseConfig

    def setup(self, data) -> None:
        if self.config.offset_range == 0:
            self.config = replace(self.config, offset_range=max_canonical_offset(data))
        if self.config.slot_unit == 0.0:
            self.config = replace(self.config, slot_unit=max(self.config.offset_range / 4, 1.0))
        if self.config.scale_free and self.config.position_unit == 0.0:
            self.config = replace(self.config, position_unit=self.fit_position_unit(data))
        super().setup(data)

    def build_net(self) -> None:
        c = self.config
        ch = 3 + self.max_degree
        self.net = NodeTransformer(
            ch, ch, self.max_nodes, c.width, c.depth, c.heads, len(self.scaler.names)
        )

    def encode(self, data) -> dict:
        pos = np.asarray(data.pos, dtype=np.float64)
        mask = np.asarray(data.mask, dtype=bool)
        nbrs = np.asarray(data.nbrs)
        if nbrs.shape[2] != self.max_degree or pos.shape[1] != self.max_nodes:
            raise InputError(
                f"dataset shapes (L={pos.shape[1]}, K={nbrs.shape[2]}) differ from the model's "
                f"(L={self.max_nodes}, K={self.max_degree})"
            )
        unit = self._units(pos, nbrs)
        x = np.concatenate([pos / unit[:, None, None], encode_slots(nbrs, self._slot_unit)], -1)
        x = np.clip(x, -4, 4) * mask[..., None]
        cond = self.scaler.normalise(np.asarray(data.features))
        return {
            "x": torch.as_tensor(x, dtype=torch.float32),
            "mask": torch.as_tensor(mask),
            "cond": torch.as_tensor(cond, dtype=torch.float32),
        }

    def training_loss(self, net, batch: dict, generator) -> torch.Tensor:
        c = self.config
        x0, mask, cond = batch["x"], batch["mask"], batch["cond"]
        b, dev = x0.shape[0], x0.device
        sigma = training_sigma(b, c.edm, generator, dev)
        noise = torch.randn(x0.shape, generator=generator, device=dev)
        xn = (x0 + sigma[:, None, None] * noise) * mask[..., None]
        present = training_presence(b, cond.shape[1], c.p_hide, c.p_uncond, generator, dev)
        denoise = edm_denoiser(
            lambda xi, cn: net(xi, mask, cn, cond * present, present), c.sigma_data
        )
        return masked_mse(denoise(xn, sigma), x0, mask, loss_weight(sigma, c.sigma_data))

    @property
    def _slot_unit(self) -> float:
        """Offset per unit of slot value (checkpoints before ``slot_unit``: the range B)."""
        return self.config.slot_unit or float(self.config.offset_range)

    def _units(self, pos: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
        c = self.config
        if c.scale_free:
            return mean_edge_lengths(pos, nbrs) * c.position_unit
        return np.full(len(pos), 2 * self.scaler.pos_scale)

    def generate(self, values, present, counts, guidance, steps, generator, lengths=None):
        c = self.config
        dev = values.device
        n, L = len(counts), self.max_nodes
        mask = torch.arange(L, device=dev)[None, :] < torch.as_tensor(counts, device=dev)[:, None]
        sig = karras_sigmas(steps or c.sample_steps, c.sigma_min, c.sigma_max, c.rho, device=dev)

        def raw(xi, cn):
            def call(v, p, reps):
                return self.net(xi.repeat(reps, 1, 1), mask.repeat(reps, 1), cn.repeat(reps), v, p)

            return self.cfg_net(call, values, present, guidance) * mask[..., None]

        denoise = edm_denoiser(raw, c.sigma_data)
        x = torch.randn((n, L, 3 + self.max_degree), generator=generator, device=dev) * sig[0]
        x = x * mask[..., None]
        if c.sampler == "heun":
            x = heun_sample(denoise, x, sig, churn=c.churn, generator=generator)
        else:
            x = ancestral_sample(denoise, x, sig, generator=generator)
        c = self.config
        units = self.position_scales(lengths, n, c.scale_free, c.position_unit)
        targets = lens = None
        if c.exact:
            targets = self.edge_targets(values, present, counts)
            lens = units / c.position_unit if c.scale_free else None
        return self.decode(x.float().cpu().numpy(), np.asarray(counts), units, targets, lens)

    def decode(
        self,
        x: np.ndarray,
        counts: np.ndarray,
        units: np.ndarray | None = None,
        n_edges: np.ndarray | None = None,
        mean_lengths: np.ndarray | None = None,
    ):
        """Raw (n, L, 3 + K) model outputs -> (webs, stats); ``units`` (n,): physical
        length of one model position unit per sample (default: the global scale).
        ``n_edges`` / ``mean_lengths`` (n,): constrained decoding (see
        :func:`~araneus.models.decode.decode_candidates`; -1 / NaN = none); the second
        nearest offset of every slot is the reserve candidate."""
        if units is None:
            units = np.full(x.shape[0], 2 * self.scaler.pos_scale)
        total = DecodeStats()
        webs = []
        for b in range(x.shape[0]):
            src, dst, conf = decode_slots(x[b, :, 3:], self._slot_unit)
            e = None if n_edges is None or n_edges[b] < 0 else int(n_edges[b])
            ml = None if mean_lengths is None else float(mean_lengths[b])
            es, ed, esc = second_offsets(x[b, :, 3:], self._slot_unit)
            web, st = decode_candidates(
                x[b, :, :3],
                src,
                dst,
                conf,
                int(counts[b]),
                self.max_degree,
                scale=float(units[b]),
                symmetric_votes=True,
                n_edges=e,
                mean_length=ml,
                extra_src=es,
                extra_dst=ed,
                extra_score=esc,
            )
            webs.append(web)
            total.add(st)
        return webs, total
