"""Model 3: an autoregressive graph transformer that builds a web node by node.

Nodes are generated in the dataset's canonical (BFS) order. Sequence position 0 holds a
learned start token; position ``t + 1`` holds node ``t``. The causal transformer's hidden
state ``h_t`` (which has seen nodes ``0..t-1``) predicts node ``t`` in three factors, so the
likelihood of a web factorises exactly over steps::

    p(G) = prod_t  p(stop_t | h_t) * prod_{j<t} p(a_tj | h_t, h_{j+1}) * p(x_t | h_t, h_parent)

* **stop**: a Bernoulli "this web ends here" logit (a web with n nodes has stop = 0 at
  steps 0..n-1 and stop = 1 at step n);
* **edges**: Bernoulli logits for an edge from node t to every earlier node j within the
  canonical-order band ``t - j <= B`` (B = largest offset in the training data), from a
  pointer (query of ``h_t`` against keys of the earlier nodes' states) plus a learned bias
  per offset. In BFS order every node after the first has an earlier neighbour (its BFS
  parent: the earliest one), so sampling always keeps at least one edge;
* **position**: a mixture of 3-D diagonal Gaussians over the offset ``u_t - u_parent``
  (node 0: its position), conditioned on ``h_t`` and the parent's state.

Positions are modelled scale-free, ``u = x / rho`` with ``rho`` the web's mean edge length,
and ``log rho`` itself comes first from a 1-D mixture given the condition (the training
webs span two orders of magnitude in size; this way one network serves them all). The
scale enters every token and, with the condition, every output head directly.

Conditions (any subset of the named features) are embedded and added to every token;
whole-condition dropout trains the unconditional branch for classifier-free guidance,
applied to all logits and mixture means at sampling. Generation uses a key/value cache, so
L nodes cost L one-token forward passes; batches stop per sample. Temperature scales every
logit (and the Gaussian spread); top-p filters the mixture component choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, InputError
from .base import TorchGenerator, check_common_config, max_canonical_offset, register_model
from .conditioning import ConditionEmbedding, training_presence
from .decode import DecodeStats, decode_candidates
from .diffusion import cfg_combine
from .mixture import (
    bernoulli_log_prob,
    mog_log_prob,
    sample_bernoulli,
    sample_mog,
    split_mog,
)

_NEG = -1e4


@dataclass
class AutoregressiveConfig:
    """Settings of model 3; sizes fit the 2-core CPU budget (see docs/models.md)."""

    width: int = 128
    depth: int = 4
    heads: int = 4
    mixtures: int = 8
    p_hide: float = 0.3
    p_uncond: float = 0.1
    band: int = 0
    min_nodes: int = 2
    temperature: float = 1.0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        check_common_config(self.width, self.depth, self.heads, self.p_hide, self.p_uncond)
        if self.mixtures < 1:
            raise ConfigError(f"mixtures must be >= 1, got {self.mixtures}")
        if self.band < 0 or self.min_nodes < 1:
            raise ConfigError("band must be >= 0 and min_nodes >= 1")
        _check_sampling(self.temperature, self.top_p)


def _check_sampling(temperature: float, top_p: float) -> None:
    if not (math.isfinite(temperature) and 0 <= temperature <= 10):
        raise InputError(f"temperature must be in [0, 10], got {temperature}")
    if not (0 < top_p <= 1):
        raise InputError(f"top_p must be in (0, 1], got {top_p}")


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

    def scale_raw(self, values, present) -> torch.Tensor:
        """Raw 1-D mixture parameters of the web's log scale given the condition (B, 3M)."""
        return self.scale_head(self.cond(values, present))

    def context(self, values, present, log_rho: torch.Tensor) -> torch.Tensor:
        """Per-sample context (B, W): condition embedding plus the web's log scale."""
        return self.cond(values, present) + self.scale_in(log_rho[:, None])

    def heads_in(self, h: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        """Hidden states plus a direct path from the context, fed to the output heads."""
        c = self.head_ctx(ctx)
        return h + (c[:, None] if h.dim() == 3 else c)

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

    def pointer(self, q: torch.Tensor, k: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Pointer logits from projected queries/keys plus the learned offset bias."""
        s = q @ k.transpose(-1, -2) / math.sqrt(self.width)
        return s + self.offset_bias[offsets.clamp(0, self.band)] + self.edge_bias

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


def web_scale(x: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
    """(S,) mean edge length of each padded sample (x (S, L, 3), nbrs (S, L, K), -1 empty)."""
    s = np.arange(x.shape[0])[:, None, None]
    valid = nbrs >= 0
    d = np.linalg.norm(x[s, np.where(valid, nbrs, 0)] - x[:, :, None], axis=-1)
    rho = (d * valid).sum((1, 2)) / np.maximum(valid.sum((1, 2)), 1)
    return np.maximum(rho, 1e-6)


def parents_of(back: torch.Tensor) -> torch.Tensor:
    """(B, L) earliest earlier neighbour of each node, -1 where there is none."""
    L = back.shape[-1]
    idx = torch.arange(L, device=back.device)
    cand = torch.where(back, idx[None, None, :], torch.full_like(back, L, dtype=torch.long))
    p = cand.min(-1).values
    return torch.where(p < L, p, torch.full_like(p, -1))


# ------------------------------------------------------------------------------ model
@register_model("autoregressive")
class AutoregressiveGraph(TorchGenerator):
    """Model 3: node-by-node autoregressive transformer (see the module docstring)."""

    Config = AutoregressiveConfig

    def setup(self, data) -> None:
        if self.config.band == 0:
            self.config = replace(self.config, band=max_canonical_offset(data))
        super().setup(data)

    def build_net(self) -> None:
        c = self.config
        self.net = ARNet(
            token_dim(self.max_degree),
            self.max_nodes,
            c.width,
            c.depth,
            c.heads,
            len(self.scaler.names),
            c.mixtures,
            c.band,
        )

    @property
    def _scale(self) -> float:
        return 2.0 * self.scaler.pos_scale

    def encode(self, data) -> dict:
        pos = np.asarray(data.pos, dtype=np.float64)
        mask = np.asarray(data.mask, dtype=bool)
        nbrs = np.asarray(data.nbrs)
        if nbrs.shape[2] != self.max_degree or pos.shape[1] != self.max_nodes:
            raise InputError(
                f"dataset shapes (L={pos.shape[1]}, K={nbrs.shape[2]}) differ from the model's "
                f"(L={self.max_nodes}, K={self.max_degree})"
            )
        s, L, _ = nbrs.shape
        back = np.zeros((s, L, L), dtype=bool)
        si, ti, ki = np.nonzero(nbrs >= 0)
        j = nbrs[si, ti, ki]
        lower = j < ti
        back[si[lower], ti[lower], j[lower]] = True
        x = pos / self._scale * mask[..., None]
        return {
            "x": torch.as_tensor(x, dtype=torch.float32),
            "rho": torch.as_tensor(web_scale(x, nbrs), dtype=torch.float32),
            "back": torch.as_tensor(back),
            "n": torch.as_tensor(mask.sum(1), dtype=torch.long),
            "cond": torch.as_tensor(
                self.scaler.normalise(np.asarray(data.features)), dtype=torch.float32
            ),
        }

    # ------------------------------------------------------------------ likelihood
    def step_log_likelihood(self, net, batch: dict, values, present) -> torch.Tensor:
        """Teacher-forced per-step log-likelihood terms, (B, L + 1).

        Column t holds log p(stop_t) + log p(edges of node t) + log p(u_t) (each only
        where defined), where u = x / rho are positions in units of the web's scale rho (its
        mean edge length); column 0 also holds log p(log rho | condition). Summing a row
        gives the log-likelihood of the web (its scale and its scale-free shape).
        """
        back, n, rho = batch["back"], batch["n"], batch["rho"]
        x = batch["x"] / rho[:, None, None]
        b, L, _ = x.shape
        dev = x.device
        log_rho = rho.log()
        ctx = net.context(values, present, log_rho)
        parent = parents_of(back)
        tokens = node_tokens(x, back, parent, self.max_degree, self.config.band)
        h = net.forward_full(tokens, ctx)  # (B, L+1, W)
        hh = net.heads_in(h, ctx)
        steps = torch.arange(L + 1, device=dev)
        # scale of the web
        slg, smu, sls = split_mog(net.scale_raw(values, present), self.config.mixtures, dim=1)
        scale_lp = mog_log_prob(slg, smu, sls, log_rho[:, None])
        # stop: defined for t <= n (target 1 exactly at t == n)
        stop_lp = bernoulli_log_prob(net.stop(hh).squeeze(-1), (steps[None] == n[:, None]).float())
        stop_lp = stop_lp * (steps[None] <= n[:, None])
        if self.config.min_nodes > 1:
            stop_lp = stop_lp * (steps[None] >= self.config.min_nodes)
        # edges of node t (t = 1..L-1) to j < t within the band
        idx = torch.arange(L, device=dev)
        offs = idx[:, None] - idx[None, :]
        allowed = (offs >= 1) & (offs <= self.config.band)
        # query node t at h_t, key j at h_{j+1}
        logits = net.pointer(net.query(hh[:, :L]), net.key(h[:, 1:]), offs)
        real = idx[None, :] < n[:, None]  # (B, L)
        e_mask = allowed[None] & real[:, :, None]
        edge_lp = (bernoulli_log_prob(logits, back.float()) * e_mask).sum(-1)  # (B, L)
        # positions: offset from the parent (node 0: absolute)
        par = parent.clamp(min=0)
        parent_h = torch.gather(h[:, 1:], 1, par[..., None].expand(-1, -1, h.shape[-1]))
        parent_h = parent_h * (parent >= 0)[..., None]
        px = torch.gather(x, 1, par[..., None].expand(-1, -1, 3))
        target = torch.where((parent >= 0)[..., None], x - px, x)
        lg, mu, ls = split_mog(net.position_raw(hh[:, :L], parent_h), self.config.mixtures)
        pos_lp = mog_log_prob(lg, mu, ls, target) * real
        out = stop_lp.clone()
        out[:, :L] = out[:, :L] + edge_lp + pos_lp
        out[:, 0] = out[:, 0] + scale_lp
        return out

    def training_loss(self, net, batch: dict, generator) -> torch.Tensor:
        c = self.config
        cond = batch["cond"]
        b = cond.shape[0]
        present = training_presence(b, cond.shape[1], c.p_hide, c.p_uncond, generator, cond.device)
        ll = self.step_log_likelihood(net, batch, cond * present, present).sum(-1)
        return -(ll / batch["n"].clamp(min=1)).mean()

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        conditions,
        n,
        *,
        guidance=1.0,
        seed=None,
        steps=None,
        temperature: float | None = None,
        top_p: float | None = None,
    ):
        """Generate ``n`` webs; ``temperature``/``top_p`` override the config's defaults.

        ``steps`` is accepted for interface compatibility and ignored (the model stops
        itself, after at most L nodes).
        """
        t = self.config.temperature if temperature is None else float(temperature)
        p = self.config.top_p if top_p is None else float(top_p)
        _check_sampling(t, p)
        self._sampling = (t, p)
        return super().sample(conditions, n, guidance=guidance, seed=seed, steps=None)

    def generate(self, values, present, counts, guidance, steps, generator):
        temperature, top_p = getattr(
            self, "_sampling", (self.config.temperature, self.config.top_p)
        )
        x, back, n_nodes = self.generate_raw(
            values, present, guidance, generator, temperature=temperature, top_p=top_p
        )
        return self._decode(x, back, n_nodes)

    def generate_raw(
        self,
        values,
        present,
        guidance,
        generator,
        *,
        temperature=1.0,
        top_p=1.0,
        use_cache: bool = True,
    ):
        """Sample node by node. Returns positions (B, L, 3) model units, back (B, L, L), n (B,).

        With ``use_cache=False`` every step reruns the full prefix (for testing the cache).
        """
        net, c = self.net, self.config
        dev = values.device
        b, L, k = values.shape[0], self.max_nodes, self.max_degree
        guided = guidance != 1.0
        if guided:
            values = torch.cat([values, torch.zeros_like(values)])
            present = torch.cat([present, torch.zeros_like(present)])
        rows = values.shape[0]
        x = torch.zeros(b, L, 3, device=dev)
        back = torch.zeros(b, L, L, dtype=torch.bool, device=dev)
        parent = torch.full((b, L), -1, dtype=torch.long, device=dev)
        deg = torch.zeros(b, L, dtype=torch.long, device=dev)
        hid = torch.zeros(rows, L, net.width, device=dev)  # h_{j+1}: state after node j
        keys = torch.zeros(rows, L, net.width, device=dev)  # pointer keys of node j
        n_nodes = torch.full((b,), L, dtype=torch.long, device=dev)
        alive = torch.ones(b, dtype=torch.bool, device=dev)
        caches = net.new_cache(rows, L + 1, dev) if use_cache else None
        idx = torch.arange(L, device=dev)

        def guide(out):
            return cfg_combine(out[:b], out[b:], guidance) if guided else out

        # the web's scale first: log rho from its conditional mixture
        slg, smu, sls = split_mog(net.scale_raw(values, present), c.mixtures, dim=1)
        if guided:
            slg, smu, sls = guide(slg), guide(smu), sls[:b]
        log_rho = sample_mog(
            slg, smu, sls, temperature=temperature, top_p=top_p, generator=generator
        )[:, 0]
        ctx = net.context(values, present, log_rho.repeat(2) if guided else log_rho)
        h = None
        for t in range(L + 1):
            if use_cache:
                tok = None
                if t > 0:
                    tok = node_tokens(x, back, parent, k, c.band, row=t - 1)
                    tok = tok.repeat(2, 1) if guided else tok
                h = net.step(tok, t, ctx, caches)
            else:
                toks = node_tokens(x, back, parent, k, c.band)[:, :t]
                toks = toks.repeat(2, 1, 1) if guided else toks
                h = net.forward_full(toks, ctx)[:, t]
            if t > 0:
                hid[:, t - 1] = h
                keys[:, t - 1] = net.key(h)
            if t == L:
                break
            hh = net.heads_in(h, ctx)
            stop_logit = guide(net.stop(hh).squeeze(-1))
            stop = sample_bernoulli(stop_logit, temperature=temperature, generator=generator)
            stop &= alive & (t >= c.min_nodes)
            n_nodes = torch.where(stop, torch.full_like(n_nodes, t), n_nodes)
            alive &= ~stop
            if not alive.any():
                break
            par = torch.full((b,), -1, dtype=torch.long, device=dev)
            if t > 0:
                offs = (t - idx[:t])[None]
                logits = guide(net.pointer(net.query(hh)[:, None], keys[:, :t], offs)[:, 0])
                ok = (offs <= c.band) & (deg[:, :t] < k)
                logits = logits.masked_fill(~ok, _NEG)
                pick = sample_bernoulli(logits, temperature=temperature, generator=generator) & ok
                none = ~pick.any(-1)
                if none.any():  # every node after the first has an earlier neighbour in BFS order
                    best = logits.argmax(-1)
                    pick[none, best[none]] = ok[none, best[none]]
                # degree cap of the new node itself: keep its k strongest picks
                if (pick.sum(-1) > k).any():
                    top = logits.masked_fill(~pick, _NEG - 1).topk(k, dim=-1).indices
                    capped = torch.zeros_like(pick).scatter(-1, top, True)
                    pick &= capped
                pick &= alive[:, None]
                back[:, t, :t] = pick
                deg[:, :t] += pick.long()
                deg[:, t] = pick.sum(-1)
                has = pick.any(-1)
                first = torch.where(pick, idx[None, :t], torch.full_like(pick, L, dtype=torch.long))
                par = torch.where(has, first.min(-1).values, par)
            parent[:, t] = par
            reps = 2 if guided else 1
            has_par = (par >= 0).repeat(reps)[:, None]
            ph = hid[torch.arange(rows, device=dev), par.clamp(min=0).repeat(reps)] * has_par
            lg, mu, ls = split_mog(net.position_raw(hh, ph), c.mixtures)
            if guided:
                lg, mu, ls = guide(lg), guide(mu), ls[:b]
            off = sample_mog(lg, mu, ls, temperature=temperature, top_p=top_p, generator=generator)
            base = x[torch.arange(b, device=dev), par.clamp(min=0)] * (par >= 0)[:, None]
            x[:, t] = torch.where(alive[:, None], base + off, torch.zeros_like(off))
        return x * log_rho.exp()[:, None, None], back, n_nodes

    def _decode(self, x, back, n_nodes):
        x = x.float().cpu().numpy()
        back = back.cpu().numpy()
        counts = n_nodes.cpu().numpy()
        total = DecodeStats()
        webs = []
        for s in range(x.shape[0]):
            n = int(counts[s])
            ti, ji = np.nonzero(back[s, :n, :n])
            web, st = decode_candidates(
                x[s], ti, ji, np.ones(len(ti)), n, self.max_degree, scale=self._scale
            )
            webs.append(web)
            total.add(st)
        return webs, total
