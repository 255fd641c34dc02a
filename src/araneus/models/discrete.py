"""Model 2: joint diffusion of positions (Gaussian EDM) and adjacency (categorical D3PM).

Positions follow the same EDM diffusion as model 1, scale-free (divided by the web's
mean edge length; see ``sparse.py``), so the pairwise distances the network sees are in
units of the typical thread length at every web size. The adjacency is a genuinely discrete
diffusion: each node pair is a two-class variable (no edge / edge) corrupted by the
marginal-preserving transitions of DiGress (``d3pm.py``), so a noised graph is a random
graph with the training edge density and sampling starts from one. A graph transformer
with a dense edge stream (``nets.GraphTransformer``) sees noisy positions, the noisy
adjacency and pairwise distances, and predicts the clean positions (EDM-preconditioned) and
the clean edge probabilities. Sampling runs both chains jointly: an Euler-ancestral step
by default (or a DPM-Solver++(2M) step; both one network evaluation; or a Heun step, two)
for positions and a posterior step ``q(A_s | A_t, A0_hat)`` for the adjacency per
sampling step.

Band: in the dataset's canonical breadth-first order every edge joins nodes at most ``B``
apart (the bandwidth, recorded in the dataset). Pairs farther apart are structural zeros,
like padding: they are never noised, never scored and never sampled (``band``, default
``B`` from the training data; 0 diffuses every pair, as checkpoints before the setting
did). The marginal edge density is taken over the band, so the prior graph has the
right number of edges where edges can be.

Structure (``structure``, default on): the network also sees, for every pair, how many
common neighbours it has in the current noisy graph and its gap in canonical order, and
for every node its noisy degree; with ``components`` (default on) also whether the two
nodes of a pair lie in the same connected component of the noisy graph, and whether a
node is connected to the root (node 0). Without them the denoiser predicted about the right
number of edges but as triangles (6.8 per 64-node sample, against none in the data) and
in about six components per web; with them, 2.0 triangles and 2.9 components.

Banded edge stream (``banded_edges``, default on, with a band): the network's edge stream
holds only the pairs within the band, in the (L, 2B + 1) layout of ``nets.to_band``, so
its cost grows as ``L * B``, not ``L^2``. Self-conditioning (``self_condition``, default
on): the network also gets its previous clean estimate (positions; edge probabilities and
the distances between the estimated positions), made by a gradient-free pass in half of
the training steps, as in model 1.

Time grid (``t_power``, default 3; a sampling setting): the adjacency chain visits
``t_k = round(T (1 - k/n)^t_power)`` (``discrete.adjacency_time_grid``), crowded toward
the clean end, where each step decides fewer pairs; 10 such steps sampled the model
without a parent head about as well as 16 even ones, and the model with it samples with 14
(checkpoints without the setting keep the even grid, ``t_power`` 1).

Parent head (``parent_head``, default on): every training web is connected, and in the
canonical breadth-first order every node after the first has an earlier neighbour (its
BFS parent, the earliest one). The network's edge stream has a third output, a parent
score per pair, trained by cross-entropy over each node's earlier candidates
(``parent_weight`` times ``discrete.parent_nll``). The clean edge probabilities alone are
a product of independent pairs: given a graph in which a node is cut off, the network
spreads the missing bridge over its few candidates (p ~ 0.3 each), and an independent draw
then left 34-58% of the webs of a model without the head in pieces. The parent head says
instead "exactly one of these is my parent".

Connected last step (``connect``, default on; a sampling setting): the last step draws
each node's parent from the parent head, no edge before it, and each pair after it given
the parent (``discrete.draw_with_parents``, which keeps the edge marginals wherever the
two heads agree), so every drawn web is one piece, by the model's own distribution.
Checkpoints without the head (``parent_head`` false) instead redraw the earlier pairs of
the nodes that the independent draw leaves cut off from node 0, conditioned on at least
one edge (``discrete.draw_earlier_neighbours``); that bridge is a repair of the model's
draw and counts as one (``DecodeStats.bridge_samples``, ``bridge_nodes``).
``connect=false`` draws every pair independently (the decoder then keeps the largest
piece).

Conditioning scale (``log_conditioning``, default off): the length-like features are
normalised on a linear scale. In both runs trained on the log scale (the other models'
default; 2,435 and 5,000 steps, the second with another change too) guidance stopped
helping, so this model keeps the linear map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from ..dataset.encode import adjacency_from_nbrs
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
from .d3pm import (
    adjacency_time_grid,
    cosine_alpha_bar,
    draw_earlier_neighbours,
    draw_with_parents,
    parent_draw_count,
    parent_nll,
    posterior_probs,
    q_probs,
    sample_categorical,
)
from .decode import DecodeStats, decode_candidates
from .diffusion import (
    SAMPLERS,
    EDMConfig,
    ancestral_step,
    dpmpp_2m_step,
    edge_vector_mse,
    karras_sigmas,
    loss_weight,
    masked_mse,
    precondition,
    training_sigma,
)
from .guidance import dense_edges, feature_guidance, tilt_edge_probs
from .nets import GraphTransformer, from_band, to_band


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
    sample_steps: int = 14
    sampler: str = "ancestral"
    edge_weight: float = 5.0
    p_hide: float = 0.3
    p_uncond: float = 0.1
    scale_free: bool = True
    position_unit: float = 0.0
    exact: bool = True
    fit_orientation: bool = True
    leaf_fraction: float = -1.0
    edge_density: float = 0.0
    band: int = -1
    structure: bool = True
    components: bool = True
    banded_edges: bool = True
    order: str = "bfs"
    self_condition: bool = True
    connect: bool = True
    t_power: float = 3.0
    parent_head: bool = True
    parent_weight: float = 1.0
    log_conditioning: bool = False
    feature_guidance: float = 1.0
    guide_sigma: float = 20.0
    edge_loss: float = 0.0

    def __post_init__(self) -> None:
        check_common_config(self.width, self.depth, self.heads, self.p_hide, self.p_uncond)
        check_leaf_fraction(self.leaf_fraction)
        check_guidance(self.feature_guidance, self.guide_sigma)
        if not 0 <= self.edge_loss <= 100:
            raise ConfigError(f"edge_loss must be in [0, 100], got {self.edge_loss}")
        if self.edge_width < 2:
            raise ConfigError(f"edge_width must be >= 2, got {self.edge_width}")
        if not 2 <= self.diffusion_steps <= 100_000 or not 1 <= self.sample_steps <= min(
            self.diffusion_steps, 1000
        ):
            raise ConfigError(
                "need 2 <= diffusion_steps <= 100000 and 1 <= sample_steps <= "
                "min(diffusion_steps, 1000)"
            )
        if not 2 <= self.edge_width <= 1024:
            raise ConfigError(f"edge_width must be in [2, 1024], got {self.edge_width}")
        if not (0 <= self.position_unit <= 1e6 and math.isfinite(self.position_unit)):
            raise ConfigError(f"position_unit must be in [0, 1e6] (0: from the data), got {self.position_unit}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if not 0 <= self.parent_weight <= 100:
            raise ConfigError(f"parent_weight must be in [0, 100], got {self.parent_weight}")
        if not 0.25 <= self.t_power <= 8:
            raise ConfigError(f"t_power must be in [0.25, 8], got {self.t_power}")
        if not 0 <= self.edge_density < 1 or self.edge_weight <= 0:
            raise ConfigError("edge_density must be in [0, 1) and edge_weight > 0")
        if self.band < -1:
            raise ConfigError(f"band must be -1 (from the data), 0 (none) or > 0, got {self.band}")
        check_order(self.order)
        _ = self.edm

    @property
    def edm(self) -> EDMConfig:
        return EDMConfig(
            self.sigma_data, self.sigma_min, self.sigma_max, self.rho, self.p_mean, self.p_std
        )


def _pair_mask(mask: torch.Tensor, band: int = 0) -> torch.Tensor:
    """(B, L) node mask -> (B, L, L) mask of real pairs i < j (and ``j - i <= band``
    when ``band > 0``)."""
    L = mask.shape[1]
    upper = torch.ones(L, L, dtype=torch.bool, device=mask.device).triu(1)
    if band > 0:
        upper = upper & ~upper.triu(band + 1)
    return mask[:, :, None] & mask[:, None, :] & upper


def component_labels(adj: torch.Tensor) -> torch.Tensor:
    """(B, L, L) symmetric 0/1 adjacency -> (B, L) connected-component labels: the
    smallest node index in each node's component (reachability by repeated squaring of
    ``A + I``, at most ``ceil(log2 L)`` batched matrix products)."""
    b, L = adj.shape[:2]
    eye = torch.eye(L, dtype=torch.float32, device=adj.device)
    reach = (adj.bool().to(torch.float32) + eye).clamp_max(1.0)  # within 1 hop
    for _ in range(max(1, math.ceil(math.log2(max(L, 2))))):
        nxt = (reach @ reach).clamp_max(1.0)  # within twice as many hops (exact: <= L)
        if torch.equal(nxt, reach):
            break
        reach = nxt
    return reach.argmax(-1)  # the first (smallest) reachable index


def _symmetric_sample(probs: torch.Tensor, pairs: torch.Tensor, gen) -> torch.Tensor:
    """Draw an upper-triangle class per pair from (B, L, L, 2) probs; mirror; 0 elsewhere."""
    a = sample_categorical(probs, gen) * pairs
    return a | a.transpose(1, 2)


@register_model("discrete")
class DiscreteDiffusion(TorchGenerator):
    """Model 2: EDM positions + D3PM (marginal transitions) adjacency, graph transformer."""

    Config = DiscreteConfig
    legacy_config = {
        "order": "bfs",
        "band": 0, "structure": False, "components": False, "leaf_fraction": 1.0,
        "banded_edges": False, "self_condition": False, "t_power": 1.0,
        "parent_head": False, "feature_guidance": 0.0,
    }  # fmt: skip
    fitted_settings = {
        "leaf_fraction": -1.0, "band": -1, "edge_density": 0.0, "position_unit": 0.0,
    }  # fmt: skip

    def setup(self, data) -> None:
        train = data.subset("train")
        _, nbrs, _ = self.ordered_arrays(train)
        if self.config.band == -1:
            self.config = replace(self.config, band=max_canonical_offset(nbrs))
        if self.config.edge_density == 0.0:
            n = np.asarray(train.mask).sum(1)
            e = (nbrs >= 0).sum((1, 2)) / 2
            pairs = _pair_mask(torch.as_tensor(np.asarray(train.mask)), self.config.band)
            rho = float(e.sum() / max(float(pairs.sum()), 1.0)) if n.size else 0.0
            self.config = replace(self.config, edge_density=min(max(rho, 1e-4), 0.5))
        if self.config.scale_free and self.config.position_unit == 0.0:
            self.config = replace(self.config, position_unit=self.fit_position_unit(data))
        super().setup(data)

    def build_net(self) -> None:
        c = self.config
        sc = int(c.self_condition)
        node_in = 3 + int(c.structure) + int(c.components) + 4 * sc  # see _inputs
        edge_in = 3 + 2 * int(c.structure) + int(c.components) + 2 * sc
        self.net = GraphTransformer(
            node_in,
            3,
            edge_in,
            2 + int(c.parent_head),
            self.max_nodes,
            c.width,
            c.edge_width,
            c.depth,
            c.heads,
            len(self.scaler.names),
            band=self._edge_band,
        )
        self._abar = cosine_alpha_bar(c.diffusion_steps)
        self._m = torch.tensor([1 - c.edge_density, c.edge_density], dtype=torch.float64)

    def encode(self, data) -> dict:
        pos, nbrs, mask = self.ordered_arrays(data)
        if pos.shape[1] != self.max_nodes or nbrs.shape[2] != self.max_degree:
            raise InputError("dataset shapes (L, K) differ from the model's")
        c = self.config
        if c.scale_free:
            unit = mean_edge_lengths(pos, nbrs) * c.position_unit
        else:
            unit = np.full(len(pos), 2 * self.scaler.pos_scale)
        x = np.clip(pos / unit[:, None, None], -4, 4) * mask[..., None]
        return {
            "x": torch.as_tensor(x, dtype=torch.float32),
            "adj": torch.as_tensor(adjacency_from_nbrs(nbrs)),
            "mask": torch.as_tensor(mask),
            "cond": torch.as_tensor(
                self.scaler.normalise(np.asarray(data.features)), dtype=torch.float32
            ),
        }

    @property
    def _edge_band(self) -> int:
        """Band of the network's edge stream (0: dense), fixed when the network is built."""
        if self.net is not None:
            return self.net.band
        c = self.config
        return c.band if c.banded_edges and c.band > 0 else 0

    def _inputs(
        self, xin: torch.Tensor, adj: torch.Tensor, est=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Network inputs from scaled noisy positions (B, L, 3) and the noisy adjacency.

        Edges: one-hot class and distance; with ``structure`` also the number of common
        neighbours in the noisy graph (an edge there would close that many triangles) and
        the gap ``|i - j|`` in canonical order relative to the band. Nodes: positions; with
        ``structure`` also the noisy degree / K. With ``components``: whether a pair lies in
        one component of the noisy graph (edge) and whether a node reaches node 0 (node).
        Such structural features let DiGress-style denoisers see cycles and cuts they would
        otherwise have to infer. With ``self_condition``: the previous clean estimate
        ``est = (x0, p_edge)`` (None: not yet made, given as zeros with a flag off), as the
        estimated positions and a flag (node), and the estimated edge probability and the
        distance between the estimated positions (edge). Edge inputs come in the
        network's edge layout (band or dense).
        """
        c = self.config
        d = torch.cdist(xin, xin)
        e = [F.one_hot(adj.long(), 2).to(xin.dtype), d[..., None]]
        nodes = [xin]
        b, L = xin.shape[:2]
        if c.structure:
            a = adj.to(xin.dtype)
            idx = torch.arange(L, device=xin.device, dtype=xin.dtype)
            gap = (idx[:, None] - idx[None, :]).abs() / max(c.band, 1)
            e += [(a @ a)[..., None] / 2, gap.clamp_max(2.0).expand(b, L, L)[..., None]]
            nodes.append(a.sum(-1, keepdim=True) / self.max_degree)
        if c.components:
            lab = component_labels(adj)
            e.append((lab[:, :, None] == lab[:, None, :]).to(xin.dtype)[..., None])
            nodes.append((lab == lab[:, :1]).to(xin.dtype)[..., None])
        if c.self_condition:
            if est is None:
                x0, pe, flag = torch.zeros_like(xin), torch.zeros_like(d), 0.0
            else:
                x0, pe, flag = est[0].to(xin.dtype), est[1].to(xin.dtype), 1.0
            nodes += [x0, torch.full_like(xin[..., :1], flag)]
            e += [pe[..., None], torch.cdist(x0, x0)[..., None]]
        e = torch.cat(e, -1)
        return torch.cat(nodes, -1), (to_band(e, self._edge_band) if self._edge_band else e)

    def _run(self, net, xn, sigma, adj, t, mask, values, present, est=None):
        """One denoiser call -> (x0_hat (B, L, 3), edge logits (B, L, L, 2), with the parent
        head a third channel of parent scores); ``est``: the previous clean estimate
        (self-conditioning)."""
        c_skip, c_out, c_in, c_noise = precondition(sigma, self.config.sigma_data)
        node, edge = self._inputs(c_in[:, None, None] * xn, adj, est)
        raw, logits = net(node, edge, mask, c_noise, t, values, present)
        if self._edge_band:
            logits = from_band(logits, self._edge_band)
        return c_skip[:, None, None] * xn + c_out[:, None, None] * raw, logits

    @staticmethod
    def _estimate(x0, p_edge, pairs) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-conditioning estimate: positions and the edge probability, mirrored onto
        both triangles of the real pairs (0 elsewhere)."""
        p = (p_edge.detach() * pairs).to(x0.dtype)
        return x0.detach(), p + p.transpose(1, 2)

    def training_loss(self, net, batch: dict, generator) -> torch.Tensor:
        c = self.config
        x0, adj0, mask, cond = batch["x"], batch["adj"], batch["mask"], batch["cond"]
        b, dev = x0.shape[0], x0.device
        sigma = training_sigma(b, c.edm, generator, dev)
        xn = x0 + sigma[:, None, None] * torch.randn(x0.shape, generator=generator, device=dev)
        xn = xn * mask[..., None]
        t = torch.randint(1, c.diffusion_steps + 1, (b,), generator=generator, device=dev)
        abar = self._abar.to(dev)[t]
        pairs = _pair_mask(mask, c.band)
        probs = q_probs(F.one_hot(adj0.long(), 2).double(), abar[:, None, None], self._m.to(dev))
        adj_t = _symmetric_sample(probs, pairs, generator)
        present = training_presence(b, cond.shape[1], c.p_hide, c.p_uncond, generator, dev)
        tt = t.float() / c.diffusion_steps
        args = (net, xn, sigma, adj_t, tt, mask, cond * present, present)
        est = None
        if c.self_condition and torch.rand(1, generator=generator, device=dev).item() < 0.5:
            with torch.no_grad():  # half of the steps: condition on the model's own estimate
                x0_est, logits = self._run(*args)
                est = self._estimate(x0_est, logits[..., :2].float().softmax(-1)[..., 1], pairs)
        x0_hat, logits = self._run(*args, est)
        lw = loss_weight(sigma, c.sigma_data)
        pos_loss = masked_mse(x0_hat, x0, mask, lw)
        if c.edge_loss > 0:  # the clean edge vectors (lengths and directions) in full
            pos_loss = pos_loss + c.edge_loss * edge_vector_mse(x0_hat, x0, adj0 & pairs, lw)
        edge_logits = logits[..., :2].float().permute(0, 3, 1, 2)
        ce = F.cross_entropy(edge_logits, adj0.long(), reduction="none")
        pf = pairs.float()
        edge_loss = ((ce * pf).sum((1, 2)) / pf.sum((1, 2)).clamp_min(1)).mean()
        loss = pos_loss + c.edge_weight * edge_loss
        if c.parent_head:
            loss = loss + c.parent_weight * parent_nll(logits[..., 2].float(), adj0, pairs)
        return loss

    def generate(self, values, present, counts, guidance, steps, generator, lengths=None):
        c = self.config
        dev = values.device
        n, L = len(counts), self.batch_length(counts)
        nsteps = steps or c.sample_steps
        nsteps = min(nsteps, c.diffusion_steps)
        mask = torch.arange(L, device=dev)[None, :] < torch.as_tensor(counts, device=dev)[:, None]
        pairs = _pair_mask(mask, c.band)
        sig = karras_sigmas(nsteps, c.sigma_min, c.sigma_max, c.rho, device=dev)
        tgrid = adjacency_time_grid(c.diffusion_steps, nsteps, c.t_power)
        abar, m = self._abar.to(dev), self._m.to(dev)

        state: dict = {"est": None}  # the previous clean estimate (self-conditioning)

        def den(x, s, adj, t):
            sigma = x.new_full((n,), s)
            tt = x.new_full((n,), float(t) / c.diffusion_steps)
            est = state["est"]

            def call(v, p, reps):
                e = None if est is None else tuple(a.repeat(reps, 1, 1) for a in est)
                return self._run(
                    self.net, x.repeat(reps, 1, 1), sigma.repeat(reps), adj.repeat(reps, 1, 1),
                    tt.repeat(reps), mask.repeat(reps, 1), v, p, e,
                )  # fmt: skip

            x0, logits = self.cfg_net(call, values, present, guidance)
            return x0 * mask[..., None], logits

        units = self.position_scales(lengths, n, c.scale_free, c.position_unit)
        guide = self.feature_targets(values, present, units)
        e_guide = None
        if c.feature_guidance > 0:
            e = self.edge_targets(values, present, counts)
            e_guide = torch.as_tensor(np.where(e >= 0, e, np.nan), device=dev)
            e_guide = None if bool(e_guide.isnan().all()) else e_guide
        x = torch.randn((n, L, 3), generator=generator, device=dev) * sig[0] * mask[..., None]
        adj = _symmetric_sample(m.expand(n, L, L, 2), pairs, generator)
        p_edge = torch.zeros(n, L, L, device=dev)
        prev = s_prev = None
        drawn = torch.zeros_like(mask)
        for k in range(nsteps):
            s_cur, s_next = float(sig[k]), float(sig[k + 1])
            t_cur, t_next = int(tgrid[k]), int(tgrid[k + 1])
            x0, logits = den(x, s_cur, adj, t_cur)
            p0 = logits[..., :2].double().softmax(-1)
            last_parents = c.connect and c.parent_head and t_next == 0
            if e_guide is not None:  # the clean estimate's expected edge total as requested
                count = parent_draw_count(logits[..., 2], pairs) if last_parents else None
                p1 = tilt_edge_probs(p0[..., 1], pairs, e_guide, count=count)
                p0 = torch.stack([1 - p1, p1], -1)
            p_edge = p0[..., 1].float() * pairs
            post = posterior_probs(
                F.one_hot(adj.long(), 2).double(), p0, abar[t_cur], abar[t_next], m
            )
            if last_parents:  # parents from the parent head
                adj_next, _ = draw_with_parents(post[..., 1], logits[..., 2], pairs, generator)
                adj_next = adj_next.to(adj.dtype)
            else:
                adj_next = _symmetric_sample(post, pairs, generator)
            if c.connect and not c.parent_head and t_next == 0:  # cut-off pieces draw a bridge
                lab = component_labels(adj_next)
                adj_next, drawn = draw_earlier_neighbours(
                    adj_next, post[..., 1], pairs, generator, (lab != lab[:, :1]) & mask
                )
            if guide is not None and s_cur <= c.guide_sigma:
                # the edges of the clean estimate; at the last step, those just drawn
                w = (adj_next.bool() & pairs).float() if t_next == 0 else p_edge
                edges = dense_edges(w, c.band, upper=True)  # the band's pairs only
                x0 = feature_guidance(x0, edges, *guide, strength=c.feature_guidance)
                x0 = x0 * mask[..., None]
            if c.self_condition:
                state["est"] = self._estimate(x0, p_edge, pairs)
            if c.sampler == "dpmpp":
                x_next = dpmpp_2m_step(x, x0, prev, s_prev, s_cur, s_next)
                prev, s_prev = x0, s_cur
            elif c.sampler == "ancestral":
                x_next = ancestral_step(x, x0, s_cur, s_next, generator=generator)
                x_next = x_next * mask[..., None]
            else:
                d = (x - x0) / s_cur
                x_next = x + (s_next - s_cur) * d
                if s_next > 0:
                    x0b, _ = den(x_next, s_next, adj_next, t_next)
                    x_next = x + (s_next - s_cur) * 0.5 * (d + (x_next - x0b) / s_next)
            x, adj = x_next, adj_next
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
            drawn.sum(1).cpu().numpy(),
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
        bridges: np.ndarray | None = None,
    ):
        """Raw positions (n, L, 3), sampled adjacency (n, L, L) and edge probabilities ->
        (webs, stats). Sampled edges are the candidates, scored by their probability.
        ``units`` (n,): physical length of one model position unit per sample.
        ``n_edges`` / ``mean_lengths`` (n,): constrained decoding (-1 / NaN = none), with
        the pairs not sampled as reserve candidates ranked by their probability.
        ``bridges`` (n,): nodes per sample that the sampler joined with a drawn bridge
        (counted as a repair of that sample)."""
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
                free = np.triu(~adj[b, :cnt, :cnt].astype(bool), 1)
                if self.config.band > 0:
                    free &= ~np.triu(free, self.config.band + 1)
                ei, ej = np.nonzero(free)
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
                leaf_fraction=self.config.leaf_fraction,
                **kw,
            )
            if bridges is not None:
                st.add_bridges(int(bridges[b]))
            webs.append(web)
            total.add(st)
        return webs, total
