"""The network and token encoding of the autoregressive model (:mod:`.autoregressive`).

:class:`ARNet` is a causal transformer (:class:`CausalBlock`, with a key/value cache for
generation) over node tokens, with stop, edge-pointer, parent-pointer and position heads;
:func:`node_tokens` encodes a prefix of a web in the dataset's canonical (BFS) order
(position, offset from the parent, back-degree one-hot, back offsets), and
:func:`degrees_before` / :func:`parents_of` read the prefix's structure from its
lower-triangular adjacency. The likelihood, budgets and sampler are in
:mod:`.autoregressive`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .conditioning import ConditionEmbedding


# ------------------------------------------------------------------------------ network
class CausalBlock(nn.Module):
    """Pre-norm transformer block with causal self-attention and an optional KV cache."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: torch.Tensor, cache: dict | None = None, at: int = 0):
        """x (B, T, W). Without ``cache``: a full causal pass. With a preallocated
        ``cache`` ({"k", "v"}: (B, H, Lmax, hd)), the T new tokens sit at positions
        ``at..at+T-1``; their keys/values are written there and they attend to all
        positions ``< at + T`` (T = 1 when generating)."""
        b, t, w = x.shape
        hd = w // self.heads
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        if cache is not None:
            cache["k"][:, :, at : at + t] = k
            cache["v"][:, :, at : at + t] = v
            k, v = cache["k"][:, :, : at + t], cache["v"][:, :, : at + t]
            att = F.scaled_dot_product_attention(q, k, v, is_causal=t > 1 and at == 0)
        else:
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, w))
        return x + self.mlp(self.norm2(x))


class ARNet(nn.Module):
    """Causal transformer over node tokens with stop, edge-pointer and position heads."""

    def __init__(
        self,
        token_dim: int,
        max_len: int,
        width: int,
        depth: int,
        heads: int,
        n_features: int,
        mixtures: int,
        band: int,
        parent_head: bool = False,
        n_budget: int = 6,
        degree_keys: int = 0,
    ):
        super().__init__()
        self.width, self.mixtures, self.band = width, mixtures, band
        self.tok = nn.Linear(token_dim, width)
        self.start = nn.Parameter(torch.randn(width) * 0.02)
        self.index = nn.Parameter(torch.randn(max_len + 1, width) * 0.02)
        self.cond = ConditionEmbedding(n_features, width)
        self.blocks = nn.ModuleList(CausalBlock(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.stop = nn.Linear(width, 1)
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.offset_bias = nn.Parameter(torch.zeros(band + 1))
        self.edge_bias = nn.Parameter(torch.tensor(-2.0))
        self.pos_head = nn.Sequential(
            nn.Linear(2 * width, 2 * width), nn.GELU(), nn.Linear(2 * width, mixtures * 7)
        )
        self.scale_in = nn.Linear(1, width)
        self.head_ctx = nn.Linear(width, width)
        self.scale_head = nn.Sequential(
            nn.Linear(width, width), nn.GELU(), nn.Linear(width, mixtures * 3)
        )
        self.budget = nn.Sequential(nn.Linear(n_budget, width), nn.GELU(), nn.Linear(width, width))
        self.edge_row = nn.Linear(width, 1)
        nn.init.zeros_(self.edge_row.weight)
        nn.init.zeros_(self.edge_row.bias)
        self.parent_head = parent_head
        if parent_head:  # a second pointer: which earlier node is the parent
            self.parent_query = nn.Linear(width, width)
            self.parent_key = nn.Linear(width, width)
            self.parent_offset = nn.Parameter(torch.zeros(band + 1))
        self.degree_keys = degree_keys
        if degree_keys:  # key terms of each candidate's current degree (0..K, K+1 = more)
            self.deg_key = nn.Parameter(torch.zeros(degree_keys, width))
            if parent_head:
                self.parent_deg_key = nn.Parameter(torch.zeros(degree_keys, width))

    def scale_raw(self, values, present) -> torch.Tensor:
        """Raw 1-D mixture parameters of the web's log scale given the condition (B, 3M)."""
        return self.scale_head(self.cond(values, present))

    def context(self, values, present, log_rho: torch.Tensor) -> torch.Tensor:
        """Per-sample context (B, W): condition embedding plus the web's log scale."""
        return self.cond(values, present) + self.scale_in(log_rho[:, None])

    def heads_in(self, h: torch.Tensor, ctx: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
        """Hidden states plus direct paths from the context and the budgets (same leading
        shape as ``h``, last dim 6), fed to the output heads."""
        c = self.head_ctx(ctx)
        return h + (c[:, None] if h.dim() == 3 else c) + self.budget(budget)

    def embed(self, tokens: torch.Tensor, offset: int, ctx: torch.Tensor) -> torch.Tensor:
        """Token features (B, T, D) at sequence positions offset.. -> (B, T, W)."""
        t = tokens.shape[1]
        return self.tok(tokens) + self.index[offset : offset + t] + ctx[:, None]

    def trunk(self, h: torch.Tensor, caches: list | None = None, at: int = 0) -> torch.Tensor:
        for i, blk in enumerate(self.blocks):
            h = blk(h, None if caches is None else caches[i], at)
        return self.norm(h)

    def forward_full(self, tokens: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: node tokens (B, L, D) -> hidden states (B, L + 1, W)."""
        start = (self.start + self.index[0] + ctx)[:, None]
        h = torch.cat([start, self.embed(tokens, 1, ctx)], dim=1)
        return self.trunk(h)

    def new_cache(self, rows: int, length: int, device) -> list[dict]:
        """Preallocated key/value buffers for generating ``length`` positions."""
        hd = self.width // self.blocks[0].heads
        shape = (rows, self.blocks[0].heads, length, hd)
        return [
            {"k": torch.zeros(shape, device=device), "v": torch.zeros(shape, device=device)}
            for _ in self.blocks
        ]

    def step(self, token, pos_index: int, ctx: torch.Tensor, caches) -> torch.Tensor:
        """One cached step: token (B, D) of sequence position ``pos_index`` (None = start)
        -> hidden state (B, W)."""
        if token is None:
            h = (self.start + self.index[0] + ctx)[:, None]
        else:
            h = self.embed(token[:, None], pos_index, ctx)
        return self.trunk(h, caches, pos_index)[:, 0]

    def edge_logits(self, q_h: torch.Tensor, k_h: torch.Tensor, offsets: torch.Tensor):
        """Pointer logits from hidden states: q_h (B, Tq, W), k_h (B, Tk, W), offsets (Tq, Tk)."""
        return self.pointer(self.query(q_h), self.key(k_h), offsets)

    def row_edge_logits(self, hh, keys, offsets, deg=None):
        """Edge logits of the new node(s): pointer logits plus the per-step density logit.
        hh (B, Tq, W) head inputs, keys (B, Tk, W) projected keys, offsets (Tq, Tk);
        ``deg`` (B, Tq, Tk): each candidate's degree so far (with ``degree_keys``)."""
        q = self.query(hh)
        s = self.pointer(q, keys, offsets)
        if self.degree_keys and deg is not None:
            s = s + self._degree_term(q, self.deg_key, deg)
        return s + self.edge_row(hh)

    def _degree_term(self, q, table, deg):
        """``q . table[deg]`` (B, Tq, Tk): the key term of each candidate's degree."""
        qd = q @ table.t() / math.sqrt(self.width)  # (B, Tq, D)
        return torch.gather(qd, -1, deg.clamp(0, table.shape[0] - 1))

    def pointer(self, q: torch.Tensor, k: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Pointer logits from projected queries/keys plus the learned offset bias."""
        s = q @ k.transpose(-1, -2) / math.sqrt(self.width)
        return s + self.offset_bias[offsets.clamp(0, self.band)] + self.edge_bias

    def parent_logits(self, hh, pkeys, offsets, deg=None):
        """Parent pointer logits (softmax over a node's earlier candidates): hh (B, Tq, W)
        head inputs, pkeys (B, Tk, W) projected parent keys, offsets (Tq, Tk), ``deg``
        as in :meth:`row_edge_logits`."""
        q = self.parent_query(hh)
        s = q @ pkeys.transpose(-1, -2) / math.sqrt(self.width)
        if self.degree_keys and deg is not None:
            s = s + self._degree_term(q, self.parent_deg_key, deg)
        return s + self.parent_offset[offsets.clamp(0, self.band)]

    def position_raw(self, h: torch.Tensor, parent_h: torch.Tensor) -> torch.Tensor:
        return self.pos_head(torch.cat([h, parent_h], dim=-1))


# ------------------------------------------------------------------------------ encoding
def token_dim(k: int) -> int:
    """Size of a node token: position, offset from parent, back-degree one-hot, back offsets."""
    return 3 + 3 + (k + 1) + k


def node_tokens(
    x: torch.Tensor,
    back: torch.Tensor,
    parent: torch.Tensor,
    k: int,
    band: int,
    row: int | None = None,
) -> torch.Tensor:
    """Token features of every node (B, L, D), or of node ``row`` only (B, D).

    x (B, L, 3) scaled positions; back (B, L, L) bool lower-triangular adjacency (back[t, j]
    for j < t); parent (B, L) index of each node's parent (-1 for none). A token holds the
    position, the offset from the parent, a one-hot of the number of earlier neighbours and
    their canonical-order offsets divided by the band (ascending, 0 = empty slot).
    """
    L = x.shape[1]
    idx = torch.arange(L, device=x.device)
    if row is None:
        xr, br, pr, ridx = x, back, parent, idx
    else:
        xr, br, pr = x[:, row : row + 1], back[:, row : row + 1], parent[:, row : row + 1]
        ridx = idx[row : row + 1]
    px = torch.gather(x, 1, pr.clamp(min=0)[..., None].expand(-1, -1, 3))
    rel = torch.where((pr >= 0)[..., None], xr - px, torch.zeros_like(xr))
    onehot = F.one_hot(br.sum(-1).clamp(max=k), k + 1).to(x.dtype)
    off = (ridx[:, None] - idx[None, :]).to(x.dtype) / max(band, 1)
    off = torch.where(br, off, torch.full_like(br, 2.0, dtype=x.dtype))
    slots = torch.sort(off, dim=-1).values[..., :k]
    slots = F.pad(slots, (0, k - slots.shape[-1]), value=2.0)
    slots = torch.where(slots > 1.5, torch.zeros_like(slots), slots)
    out = torch.cat([xr, rel, onehot, slots], dim=-1)
    return out if row is None else out[:, 0]


def degrees_before(back: torch.Tensor) -> torch.Tensor:
    """(B, L, L) long: entry ``[t, j]`` is the degree of node ``j`` among nodes ``< t``
    (its edges to earlier nodes plus those from nodes ``j < t' < t``); meaningful for
    ``j < t``. ``back`` (B, L, L) bool lower-triangular adjacency."""
    b = back.long()
    later = b.cumsum(1) - b  # [t, j]: edges to j from nodes t' < t
    return b.sum(-1)[:, None, :] + later


def parents_of(back: torch.Tensor) -> torch.Tensor:
    """(B, L) earliest earlier neighbour of each node, -1 where there is none."""
    L = back.shape[-1]
    idx = torch.arange(L, device=back.device)
    cand = torch.where(back, idx[None, None, :], torch.full_like(back, L, dtype=torch.long))
    p = cand.min(-1).values
    return torch.where(p < L, p, torch.full_like(p, -1))
