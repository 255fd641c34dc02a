"""Model 1: analog (Gaussian EDM) diffusion on the sparse neighbour representation.

Each node is a token ``[x, y, z, s_1..s_K]``: its position and K neighbour slots. Positions
are scale-free: divided by the web's mean edge length ``rho`` and by a fixed unit (twice
the training RMS of ``pos / rho``, so about 0.5 standard deviation). The training webs span
two orders of magnitude in size; without this a small web is a speck below the sampler's
noise floor. At sampling, ``rho`` is the requested ``mean_edge_length``, else that of a
training sample drawn near the other requested features (the shared prior that also draws
node counts). A slot holds a neighbour as an offset in the model's node order (``order``:
``"dfs"``, the default, renumbers every sample depth-first so that a thread's nodes are
consecutive; ``"bfs"`` keeps the dataset's canonical breadth-first order, which interleaves
the threads growing from the root) divided by the slot unit (``slot_unit``, default a
quarter of the largest training offset ``B`` but at most 4, so neighbouring offsets are at
least 0.25 apart in value; with a unit of ``B`` they were 1/B apart and the network saw
noise levels fine enough to separate them in ~3% of training draws). The default
``slots="backward"`` encoding lists only a node's EARLIER neighbours, ``d = i - j >= 1``,
largest first: every edge is stated once, by its later end, so an asymmetric pair cannot
arise, and slot 0 of every node but the root holds its earliest neighbour (in breadth-first
order its parent), so a web is connected as soon as that slot is filled. (The older
``"signed"`` encoding stated every edge at both ends, sorted ascending; empty slots, value
0, then sat between the negative and positive offsets and the meaning of a slot shifted
with the node's neighbour count. Most samples needed a symmetry repair.) A transformer over
node tokens with adaLN conditioning denoises all channels jointly (EDM preconditioning,
log-normal training noise); its attention is biased by two pair features of the noisy input
(``pair_bias``, see :func:`pair_features`): whether a slot of one node names the other, and
how close the two are in space. With ``self_condition`` the network also gets its previous
clean estimate (and that estimate's pair features), which names each node's parent long
before the noisy slots do. Without these the network made plausible point clouds and
plausible graphs that did not fit each other (generated edges 5.9 times the nearest-node
distance, against 1.6 in the data; 4.2 with them). Sampling uses Euler-ancestral steps by
default (or DPM-Solver++(2M), or Heun; one network call per step for the first two).
Decoding rounds each slot to an offset, scored by how close the slot value was to the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..errors import ConfigError, InputError
from .base import (
    TorchGenerator,
    check_common_config,
    check_guidance,
    check_leaf_fraction,
    check_order,
    max_canonical_offset,
    mean_edge_lengths,
    register_model,
)
from .conditioning import training_presence
from .decode import DecodeStats, decode_candidates
from .diffusion import (
    SAMPLERS,
    EDMConfig,
    ancestral_sample,
    dpmpp_sample,
    edge_vector_mse,
    edm_denoiser,
    heun_sample,
    karras_sigmas,
    loss_weight,
    masked_mse,
    training_sigma,
)
from .guidance import feature_guidance
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
    sample_steps: int = 12
    sampler: str = "ancestral"
    churn: float = 0.0
    p_hide: float = 0.3
    p_uncond: float = 0.1
    scale_free: bool = True
    position_unit: float = 0.0
    exact: bool = True
    fit_orientation: bool = True
    leaf_fraction: float = -1.0
    offset_range: int = 0
    slot_unit: float = 0.0
    slots: str = "backward"
    order: str = "dfs"
    pair_bias: bool = True
    self_condition: bool = True
    feature_guidance: float = 1.0
    guide_sigma: float = 20.0
    slot_weight: float = 1.0
    edge_loss: float = 0.0
    clamp_slots: bool = True

    def __post_init__(self) -> None:
        check_common_config(self.width, self.depth, self.heads, self.p_hide, self.p_uncond)
        check_leaf_fraction(self.leaf_fraction)
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if not 1 <= self.sample_steps <= 1000 or not 0 <= self.offset_range <= 4096:
            raise ConfigError("1 <= sample_steps <= 1000 and 0 <= offset_range <= 4096 required")
        if not 0 <= self.churn <= 100:
            raise ConfigError(f"churn must be in [0, 100], got {self.churn}")
        if not (0 <= self.position_unit <= 1e6 and np.isfinite(self.position_unit)):
            raise ConfigError(f"position_unit must be in [0, 1e6] (0: from the data), got {self.position_unit}")
        if self.slots not in ("backward", "signed"):
            raise ConfigError(f"slots must be 'backward' or 'signed', got {self.slots!r}")
        check_order(self.order)
        if self.pair_bias and self.slots != "backward":
            raise ConfigError("pair_bias needs slots='backward'")
        check_guidance(self.feature_guidance, self.guide_sigma)
        if not (0 < self.slot_weight <= 100 and 0 <= self.edge_loss <= 100):
            raise ConfigError("slot_weight must be in (0, 100] and edge_loss in [0, 100]")
        if not (self.slot_unit >= 0 and np.isfinite(self.slot_unit)):
            raise ConfigError(f"slot_unit must be >= 0 (0: offset_range / 4), got {self.slot_unit}")
        _ = self.edm  # validates the noise settings

    @property
    def edm(self) -> EDMConfig:
        return EDMConfig(
            self.sigma_data, self.sigma_min, self.sigma_max, self.rho, self.p_mean, self.p_std
        )


def encode_slots(nbrs: np.ndarray, offset_range: float, slots: str = "backward") -> np.ndarray:
    """(S, L, K) neighbour indices (-1 empty) -> (S, L, K) slot values (offset / unit).

    ``slots="backward"``: node ``i`` lists only its earlier neighbours ``j < i`` as
    ``d = i - j >= 1``, largest first (so slot 0 holds the earliest neighbour), empty
    slots 0 at the end; every edge is stated once, by its later end. ``"signed"`` (the
    encoding of older checkpoints): every neighbour as ``j - i``, sorted ascending.
    """
    nb = np.asarray(nbrs, dtype=np.int64)
    idx = np.arange(nb.shape[1])[None, :, None]
    if slots == "backward":
        d = np.where((nb >= 0) & (nb < idx), idx - nb, 0).astype(np.float64)
        return -np.sort(-d, axis=-1) / offset_range
    off = np.where(nb >= 0, nb - idx, 0).astype(np.float64)
    return np.sort(off / offset_range, axis=-1)


def _slot_targets(r: np.ndarray, slots: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rounded (L, K) slot values -> (src, dst, selected) for the slots that name an
    edge: any non-zero offset (signed) or a positive one (backward)."""
    src = np.broadcast_to(np.arange(r.shape[0])[:, None], r.shape)
    if slots == "backward":
        return src, src - r.astype(np.int64), r >= 1
    return src, src + r.astype(np.int64), r != 0


def decode_slots(
    slots: np.ndarray, offset_range: float, mode: str = "backward"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L, K) raw slot values -> candidate (src, dst, confidence) arrays.

    NaN/inf slots and empty slots (rounded to 0, or below it for ``mode="backward"``)
    give no candidate; confidence is ``1 - 2 |v B - round(v B)|`` in [0, 1].
    """
    v = np.asarray(slots, dtype=np.float64) * offset_range
    v = np.where(np.isfinite(v), v, 0.0)
    r = np.rint(v)
    conf = 1.0 - 2.0 * np.abs(v - r)
    src, dst, sel = _slot_targets(r, mode)
    return src[sel], dst[sel], conf[sel] + 1e-3


def second_offsets(slots: np.ndarray, offset_range: float, mode: str = "backward"):
    """Reserve candidates of (L, K) raw slots: the second-nearest integer offset of every
    slot, scored ``1 - |v B - r2|`` in (0, 0.5] (offsets naming no edge and slots exactly
    on the grid give none)."""
    v = np.asarray(slots, dtype=np.float64) * offset_range
    v = np.where(np.isfinite(v), v, 0.0)
    r = np.rint(v)
    r2 = np.where(v >= r, r + 1, r - 1)
    src, dst, sel = _slot_targets(r2, mode)
    score = 1.0 - np.abs(v - r2)
    sel = sel & (score > 0)
    return src[sel], dst[sel], score[sel]


def slot_edge_list(slots: torch.Tensor, mask: torch.Tensor, unit: float, mode: str = "backward"):
    """(B, L, K) slot values of a clean estimate -> edge list ``(src, dst, w)`` of
    (B, L K) tensors: node ``i``, the node its slot names and 1 where that is an edge
    :func:`decode_slots` would propose (0 elsewhere; ``mask`` (B, L) real nodes)."""
    b, L, k = slots.shape
    r = torch.round(slots.float() * unit)
    idx = torch.arange(L, device=slots.device)[None, :, None].expand(b, L, k)
    dst = idx - r if mode == "backward" else idx + r
    ok = (r >= 1) if mode == "backward" else (r != 0)
    ok = ok & (dst >= 0) & (dst < L) & (dst != idx) & mask[:, :, None]
    dsti = dst.clamp(0, L - 1).long()
    ok = ok & torch.gather(mask, 1, dsti.flatten(1)).view_as(ok)
    return idx.reshape(b, -1), dsti.reshape(b, -1), ok.reshape(b, -1).float()


def slot_edges(slots: torch.Tensor, mask: torch.Tensor, unit: float, mode: str = "backward"):
    """(B, L, K) slot values of a clean estimate -> (B, L, L) 0/1 edge weights, each edge
    once (row = the node whose slot names it; ``mask`` (B, L) real nodes). The edges that
    :func:`decode_slots` would propose, before any repair."""
    b, L, _ = slots.shape
    r = torch.round(slots.float() * unit)
    idx = torch.arange(L, device=slots.device)[None, :, None]
    dst = idx - r if mode == "backward" else idx + r
    ok = (r >= 1) if mode == "backward" else (r != 0)
    ok = ok & (dst >= 0) & (dst < L) & (dst != idx) & mask[:, :, None]
    dsti = dst.clamp(0, L - 1).long()
    ok = ok & torch.gather(mask, 1, dsti.flatten(1)).view_as(ok)
    w = torch.zeros(b, L, L, device=slots.device)
    return w.scatter_add_(2, dsti, ok.float()).clamp_max(1.0)


def pair_features(x: torch.Tensor, slot_unit: float, length: float) -> torch.Tensor:
    """Pair features of node tokens for the attention bias: (B, L, 3 + K) -> (B, L, L, 2).

    ``x`` is in model units (noisy tokens, or a clean estimate). Feature 0, slot
    agreement: how well a slot of ``i`` names ``j`` as a backward neighbour
    (``exp(-(d - (i - j))^2 / 2)`` for slot offsets ``d``), or a slot of ``j`` names ``i``.
    Feature 1, proximity: ``exp(-|p_i - p_j|^2 / (2 length^2))`` with ``length`` the
    typical edge length in model units. With them a head can attend to the node a slot
    points at, and a slot to the nodes nearby: the coupling of positions and connectivity
    that a plain node transformer must otherwise discover by itself.
    """
    x = x.float()
    pos, off = x[..., :3], x[..., 3:] * slot_unit
    idx = torch.arange(x.shape[1], device=x.device, dtype=x.dtype)
    delta = idx[:, None] - idx[None, :]  # i - j
    agree = torch.exp(-0.5 * (off[:, :, :, None] - delta[None, :, None, :]) ** 2).amax(2)
    agree = torch.maximum(agree, agree.transpose(1, 2))
    near = torch.exp(-0.5 * torch.cdist(pos, pos) ** 2 / length**2)
    return torch.stack([agree, near], -1)


@register_model("sparse")
class SparseDiffusion(TorchGenerator):
    """Model 1: EDM diffusion over ``[x, y, z, K neighbour slots]`` node tokens."""

    Config = SparseConfig
    legacy_config = {
        "slots": "signed",
        "pair_bias": False,
        "self_condition": False,
        "leaf_fraction": 1.0,
        "feature_guidance": 0.0,
        "order": "bfs",
        "clamp_slots": False,
    }
    fitted_settings = {
        "leaf_fraction": -1.0, "offset_range": 0, "slot_unit": 0.0, "position_unit": 0.0,
    }  # fmt: skip

    def setup(self, data) -> None:
        if self.config.offset_range == 0:
            train = data.subset("train")
            _, nbrs, _ = self.ordered_arrays(train)
            self.config = replace(self.config, offset_range=max_canonical_offset(nbrs))
        if self.config.slot_unit == 0.0:
            unit = min(self.config.offset_range / 4, 4.0)  # neighbouring offsets >= 0.25 apart
            self.config = replace(self.config, slot_unit=max(unit, 1.0))
        if self.config.scale_free and self.config.position_unit == 0.0:
            self.config = replace(self.config, position_unit=self.fit_position_unit(data))
        super().setup(data)

    def build_net(self) -> None:
        c = self.config
        ch = 3 + self.max_degree
        views = 2 if c.self_condition else 1  # noisy tokens (+ the previous clean estimate)
        self.net = NodeTransformer(
            ch * views, ch, self.max_nodes, c.width, c.depth, c.heads, len(self.scaler.names),
            pair_features=2 * views if c.pair_bias else 0,
        )  # fmt: skip

    def _inputs(
        self, xi: torch.Tensor, c_noise: torch.Tensor, est: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Network tokens and pair features from the preconditioned noisy tokens ``xi``
        (``c_in x``), ``c_noise = ln(sigma) / 4`` and the previous clean estimate ``est``
        (self-conditioning; None: not yet made, given as zeros and flagged off)."""
        c = self.config
        length = 1.0 / c.position_unit if c.scale_free else 0.25
        pairs = []
        if c.pair_bias:
            sigma = (4.0 * c_noise.float()).exp()
            x = xi.float() * (sigma**2 + c.sigma_data**2).sqrt()[:, None, None]
            pairs.append(pair_features(x, self._slot_unit, length))
        if not c.self_condition:
            return xi, (torch.cat(pairs, -1).to(xi.dtype) if pairs else None)
        e = torch.zeros_like(xi) if est is None else est.to(xi.dtype)
        if c.pair_bias:
            pairs.append(pair_features(e, self._slot_unit, length) * float(est is not None))
        return torch.cat([xi, e], -1), (torch.cat(pairs, -1).to(xi.dtype) if pairs else None)

    def encode(self, data) -> dict:
        pos, nbrs, mask = self.ordered_arrays(data)
        if nbrs.shape[2] != self.max_degree or pos.shape[1] != self.max_nodes:
            raise InputError(
                f"dataset shapes (L={pos.shape[1]}, K={nbrs.shape[2]}) differ from the model's "
                f"(L={self.max_nodes}, K={self.max_degree})"
            )
        unit = self._units(pos, nbrs)
        top = max(self.config.offset_range / self._slot_unit, 4.0)
        x = np.concatenate(
            [
                np.clip(pos / unit[:, None, None], -4, 4),
                np.clip(encode_slots(nbrs, self._slot_unit, self.config.slots), -top, top),
            ],
            -1,
        )
        x = x * mask[..., None]
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

        def raw(xi, cn, est=None):
            tokens, pairs = self._inputs(xi, cn, est)
            return net(tokens, mask, cn, cond * present, present, pairs)

        est = None
        if c.self_condition and torch.rand(1, generator=generator, device=dev).item() < 0.5:
            with torch.no_grad():  # half of the steps: condition on the model's own estimate
                est = edm_denoiser(raw, c.sigma_data)(xn, sigma).detach()
        denoise = edm_denoiser(lambda xi, cn: raw(xi, cn, est), c.sigma_data)
        pred, lw = denoise(xn, sigma), loss_weight(sigma, c.sigma_data)
        k = x0.shape[-1] - 3
        loss = masked_mse(pred[..., :3], x0[..., :3], mask, lw) * 3 / (3 + k)
        loss = loss + c.slot_weight * masked_mse(pred[..., 3:], x0[..., 3:], mask, lw) * k / (3 + k)
        if c.edge_loss > 0:  # the clean edge vectors (lengths and directions) in full
            w = slot_edges(x0[..., 3:], mask, self._slot_unit, c.slots)
            loss = loss + c.edge_loss * edge_vector_mse(pred[..., :3], x0[..., :3], w, lw)
        return loss

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
        n, L = len(counts), self.batch_length(counts)
        mask = torch.arange(L, device=dev)[None, :] < torch.as_tensor(counts, device=dev)[:, None]
        sig = karras_sigmas(steps or c.sample_steps, c.sigma_min, c.sigma_max, c.rho, device=dev)
        units = self.position_scales(lengths, n, c.scale_free, c.position_unit)
        guide = self.feature_targets(values, present, units)

        state: dict = {"est": None}  # the previous clean estimate (self-conditioning)

        def raw(xi, cn):
            tokens, pf = self._inputs(xi, cn, state["est"])

            def call(v, p, reps):
                pr = None if pf is None else pf.repeat(reps, 1, 1, 1)
                return self.net(
                    tokens.repeat(reps, 1, 1), mask.repeat(reps, 1), cn.repeat(reps), v, p, pr
                )

            return self.cfg_net(call, values, present, guidance) * mask[..., None]

        base = edm_denoiser(raw, c.sigma_data)

        top = torch.arange(L, device=dev, dtype=torch.float32)[None, :, None] / self._slot_unit

        def denoise(x, s):
            x0 = base(x, s)
            if c.clamp_slots and c.slots == "backward":  # offsets reach no further than node 0
                x0 = torch.cat([x0[..., :3], torch.minimum(x0[..., 3:], top.to(x0.dtype))], -1)
            if guide is not None and float(s[0]) <= c.guide_sigma:
                edges = slot_edge_list(x0[..., 3:], mask, self._slot_unit, c.slots)
                pos = feature_guidance(x0[..., :3], edges, *guide, strength=c.feature_guidance)
                x0 = torch.cat([pos, x0[..., 3:]], -1) * mask[..., None]
            state["est"] = x0
            return x0

        x = torch.randn((n, L, 3 + self.max_degree), generator=generator, device=dev) * sig[0]
        x = x * mask[..., None]
        if c.sampler == "heun":
            x = heun_sample(denoise, x, sig, churn=c.churn, generator=generator)
        elif c.sampler == "dpmpp":
            x = dpmpp_sample(denoise, x, sig)
        else:
            x = ancestral_sample(denoise, x, sig, generator=generator)
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
        nearest offset of every slot is the reserve candidate. Rows at or beyond a sample's
        node count are padding and are not read (a stochastic sampler leaves noise there)."""
        if units is None:
            units = np.full(x.shape[0], 2 * self.scaler.pos_scale)
        total = DecodeStats()
        webs = []
        for b in range(x.shape[0]):
            mode = self.config.slots
            slots = x[b, : max(int(counts[b]), 0), 3:]  # padding rows state no edges
            src, dst, conf = decode_slots(slots, self._slot_unit, mode)
            e = None if n_edges is None or n_edges[b] < 0 else int(n_edges[b])
            ml = None if mean_lengths is None else float(mean_lengths[b])
            es, ed, esc = second_offsets(slots, self._slot_unit, mode)
            web, st = decode_candidates(
                x[b, :, :3],
                src,
                dst,
                conf,
                int(counts[b]),
                self.max_degree,
                scale=float(units[b]),
                symmetric_votes=mode == "signed",
                n_edges=e,
                mean_length=ml,
                extra_src=es,
                extra_dst=ed,
                extra_score=esc,
                leaf_fraction=self.config.leaf_fraction,
            )
            webs.append(web)
            total.add(st)
        return webs, total
