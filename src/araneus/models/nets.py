"""Small transformer denoisers with padding masks and adaptive-norm conditioning.

* :class:`NodeTransformer` - a set/sequence transformer over node tokens (model 1).
* :class:`GraphTransformer` - node tokens plus an edge-feature stream that biases
  attention and is updated from it (model 2, after DiGress's graph transformer); the edge
  stream is dense (L, L) or banded (L, 2B + 1: only pairs at most ``B`` apart in node order,
  see :func:`to_band`).

Both take a conditioning vector per sample (noise-level embedding + condition embedding)
that modulates every layer norm (adaLN-Zero: shift, scale and a zero-initialised gate), and a
(B, L) node mask: padded nodes are never attended to, so they cannot change the outputs of
real nodes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .conditioning import ConditionEmbedding

_NEG = -1e9


class FourierEmbedding(nn.Module):
    """Embed a scalar per sample (B,) with fixed random Fourier features then an MLP."""

    def __init__(self, width: int, n_freq: int = 32, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("freqs", torch.randn(n_freq, generator=g) * 4.0, persistent=True)
        self.mlp = nn.Sequential(nn.Linear(2 * n_freq, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        a = 2 * math.pi * t[:, None].float() * self.freqs[None, :]
        return self.mlp(torch.cat([a.cos(), a.sin()], dim=-1))


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    while shift.dim() < x.dim():
        shift, scale = shift.unsqueeze(1), scale.unsqueeze(1)
    return x * (1 + scale) + shift


def _gate(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    while g.dim() < x.dim():
        g = g.unsqueeze(1)
    return g * x


class AdaBlock(nn.Module):
    """Transformer block with masked multi-head self-attention and adaLN-Zero modulation.

    An optional additive attention bias (B, H, L, L) lets edge features steer attention.
    """

    def __init__(self, width: int, heads: int, cond_width: int, mlp_ratio: int = 4):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width)
        )
        self.ada = nn.Linear(cond_width, 6 * width)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def attention_logits(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, L, w = h.shape
        q, k, v = self.qkv(h).view(b, L, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        return (q @ k.transpose(-1, -2)) / math.sqrt(w // self.heads), v

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        cond: torch.Tensor,
        bias: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, L, W), mask (B, L) bool, cond (B, Wc) -> (x, raw attention logits)."""
        s1, c1, g1, s2, c2, g2 = self.ada(F.silu(cond)).chunk(6, dim=-1)
        h = _modulate(self.norm1(x), s1, c1)
        logits, v = self.attention_logits(h)
        if bias is not None:
            logits = logits + bias
        att = logits.masked_fill(~mask[:, None, None, :], _NEG).softmax(-1)
        b, L, w = x.shape
        out = (att @ v).transpose(1, 2).reshape(b, L, w)
        x = x + _gate(g1, self.proj(out))
        x = x + _gate(g2, self.mlp(_modulate(self.norm2(x), s2, c2)))
        return x, logits


class _Head(nn.Module):
    def __init__(self, width: int, cond_width: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.ada = nn.Linear(cond_width, 2 * width)
        self.out = nn.Linear(width, out_dim)
        for m in (self.ada, self.out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        s, c = self.ada(F.silu(cond)).chunk(2, dim=-1)
        return self.out(_modulate(self.norm(x), s, c))


class NodeTransformer(nn.Module):
    """Transformer over (B, L, in_dim) node tokens -> (B, L, out_dim).

    Parameters
    ----------
    in_dim, out_dim : channels per node.
    max_len : maximum number of nodes L (learned index embedding: canonical order matters).
    width, depth, heads : transformer size.
    n_features : number of conditioning features.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        max_len: int,
        width: int,
        depth: int,
        heads: int,
        n_features: int,
        pair_features: int = 0,
    ):
        super().__init__()
        self.heads = heads
        self.inp = nn.Linear(in_dim, width)
        self.index = nn.Parameter(torch.randn(max_len, width) * 0.02)
        self.noise = FourierEmbedding(width)
        self.cond = ConditionEmbedding(n_features, width)
        self.blocks = nn.ModuleList(AdaBlock(width, heads, width) for _ in range(depth))
        self.head = _Head(width, width, out_dim)
        self.pair_ada = nn.ModuleList()
        if pair_features:
            for _ in range(depth):  # per-sample head weights of each pair feature
                lin = nn.Linear(width, heads * pair_features)
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)
                self.pair_ada.append(lin)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        c_noise: torch.Tensor,
        cond_values: torch.Tensor,
        cond_present: torch.Tensor,
        pair: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``pair`` (B, L, L, F): optional pair features; each layer turns them into an
        attention bias per head with weights set by the noise level and condition
        (zero at initialisation)."""
        b, L = x.shape[:2]
        c = F.silu(self.noise(c_noise) + self.cond(cond_values, cond_present))
        h = self.inp(x) + self.index[:L]
        for k, blk in enumerate(self.blocks):
            bias = None
            if pair is not None and len(self.pair_ada):
                w = self.pair_ada[k](c).view(b, self.heads, pair.shape[-1])
                bias = torch.einsum("bijf,bhf->bhij", pair, w)
            h, _ = blk(h, mask, c, bias)
        return self.head(h, c)


def to_band(dense: torch.Tensor, band: int) -> torch.Tensor:
    """(B, L, L, C) pair tensor -> (B, L, 2 band + 1, C) band layout.

    Entry ``[:, i, o]`` is pair ``(i, i + o - band)``; pairs beyond the matrix read 0.
    (A view of the padded tensor: windows along the columns, their diagonal over rows.)
    """
    padded = F.pad(dense, (0, 0, band, band))  # (B, L, L + 2 band, C), column j at j + band
    win = padded.unfold(2, 2 * band + 1, 1)  # [:, i, j, c, o] = padded[:, i, j + o, c]
    return torch.diagonal(win, dim1=1, dim2=2).permute(0, 3, 2, 1).contiguous()


def from_band(banded: torch.Tensor, band: int) -> torch.Tensor:
    """(B, L, 2 band + 1, C) band layout -> (B, L, L, C) with zeros beyond the band
    (the inverse of :func:`to_band` on pairs within the band)."""
    b, L, w, c = banded.shape
    out = banded.new_zeros(b, L, L + 2 * band, c)
    torch.diagonal(out.unfold(2, w, 1), dim1=1, dim2=2).copy_(banded.permute(0, 3, 2, 1))
    return out[:, :, band : band + L]


def band_transpose(banded: torch.Tensor, band: int) -> torch.Tensor:
    """The band layout of the transposed pair tensor: entry ``[:, i, o]`` becomes that of
    pair ``(i + o - band, i)``, i.e. ``banded[:, i + o - band, 2 band - o]`` (0 beyond
    the matrix)."""
    w = banded.shape[2]
    rows = F.pad(banded, (0, 0, 0, 0, band, band)).flip(2)  # [:, r, o'] = [:, r - band, 2b - o']
    win = rows.unfold(1, w, 1)  # [:, i, o', c, o] = rows[:, i + o, o', c]
    return torch.diagonal(win, dim1=2, dim2=4).permute(0, 1, 3, 2).contiguous()


class GraphTransformer(nn.Module):
    """Graph transformer with a dense edge stream (model 2).

    Inputs: node tokens (B, L, node_in), edge tokens (B, L, L, edge_in), mask (B, L), two
    noise scalars per sample (continuous c_noise for positions, discrete time t in [0, 1]
    for the adjacency) and the condition. Outputs node (B, L, node_out) and symmetric edge
    (B, L, L, edge_out) predictions.

    With ``band > 0`` edge tokens and edge outputs are in the band layout (B, L, 2 band + 1,
    C) of :func:`to_band`: the edge stream holds only pairs at most ``band`` apart (the
    only ones a banded adjacency can join), so its cost grows as ``L * band``, not ``L^2``.
    Attention still spans every node pair; pairs beyond the band get no edge bias.
    """

    def __init__(
        self,
        node_in: int,
        node_out: int,
        edge_in: int,
        edge_out: int,
        max_len: int,
        width: int,
        edge_width: int,
        depth: int,
        heads: int,
        n_features: int,
        band: int = 0,
    ):
        super().__init__()
        self.heads = heads
        self.band = band
        self.inp = nn.Linear(node_in, width)
        self.edge_inp = nn.Linear(edge_in, edge_width)
        self.index = nn.Parameter(torch.randn(max_len, width) * 0.02)
        self.noise = FourierEmbedding(width, seed=1)
        self.time = FourierEmbedding(width, seed=2)
        self.cond = ConditionEmbedding(n_features, width)
        self.blocks = nn.ModuleList(AdaBlock(width, heads, width) for _ in range(depth))
        self.edge_norm = nn.ModuleList(nn.LayerNorm(edge_width) for _ in range(depth))
        self.edge_bias = nn.ModuleList(nn.Linear(edge_width, heads) for _ in range(depth))
        self.edge_from_att = nn.ModuleList(nn.Linear(heads, edge_width) for _ in range(depth))
        self.edge_cond = nn.ModuleList(nn.Linear(width, edge_width) for _ in range(depth))
        self.edge_mlp = nn.ModuleList(
            nn.Sequential(
                nn.Linear(edge_width, 2 * edge_width),
                nn.GELU(),
                nn.Linear(2 * edge_width, edge_width),
            )
            for _ in range(depth)
        )
        self.head = _Head(width, width, node_out)
        self.edge_head = nn.Sequential(nn.LayerNorm(edge_width), nn.Linear(edge_width, edge_out))

    def forward(
        self,
        x: torch.Tensor,
        e: torch.Tensor,
        mask: torch.Tensor,
        c_noise: torch.Tensor,
        t: torch.Tensor,
        cond_values: torch.Tensor,
        cond_present: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        L = x.shape[1]
        c = F.silu(self.noise(c_noise) + self.time(t) + self.cond(cond_values, cond_present))
        h = self.inp(x) + self.index[:L]
        pair = (mask[:, :, None] & mask[:, None, :]).unsqueeze(-1).to(h.dtype)
        bw = self.band
        if bw:
            pair = to_band(pair, bw)
        z = self.edge_inp(e)
        for k, blk in enumerate(self.blocks):
            zn = self.edge_norm[k](z)
            bias = self.edge_bias[k](zn)
            if bw:
                bias = from_band(bias, bw)  # pairs beyond the band: no bias
            h, logits = blk(h, mask, c, bias.permute(0, 3, 1, 2))
            att = logits.permute(0, 2, 3, 1)
            if bw:
                att = to_band(att, bw)
            upd = self.edge_from_att[k](att) + self.edge_cond[k](c)[:, None, None]
            z = z + self.edge_mlp[k](zn + upd) * pair
        zt = band_transpose(z, bw) if bw else z.transpose(1, 2)
        out_e = self.edge_head(0.5 * (z + zt))
        return self.head(h, c), out_e
