"""Training loop shared by all torch generative models (:meth:`WebGenerator.fit` calls
:func:`train`; checkpoints are read by :mod:`araneus.models.checkpoint`, which both use).

AdamW with linear warmup and cosine decay, gradient clipping, EMA weights, seeded noise and
data order, checkpoints that resume bit-identically (the weights and loss curve after a
resume, even after ``kill -9``, are those of the uninterrupted run), a rich progress bar,
torch.distributed DDP when launched by ``torchrun`` (gloo on CPU, NCCL on CUDA) and bf16
autocast on CUDA.

A run folder holds the newest model checkpoint (``model.safetensors`` + ``model.json``, EMA
weights, usable by :func:`araneus.models.load_model`) and ``checkpoints/step-N/`` folders,
each one complete unit with the training state (raw weights, optimizer moments, every
process's RNG state, step, loss history); see :mod:`araneus.models.train_state`. Checkpoints are
written every ``ckpt_every`` steps and every ``ckpt_minutes`` minutes, whichever comes
first, and at the end. No pickles anywhere.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._progress import Progress
from ..errors import AraneusError, ConfigError, InputError
from .checkpoint import read_checkpoint_json
from .train_state import STATE_JSON, STATE_WEIGHTS, load_checkpoint, prepare_run, save_checkpoint

#: Largest number of optimisation steps of a run.
MAX_STEPS = 10**8

__all__ = ["STATE_JSON", "STATE_WEIGHTS", "TrainConfig", "TrainResult", "lr_factor", "train"]


@dataclass
class TrainConfig:
    """Training settings.

    Attributes
    ----------
    steps : total optimisation steps of the run (``resume`` continues up to it).
    batch_size : global batch size (split over DDP processes).
    lr, weight_decay : AdamW settings; ``lr`` is the peak after ``warmup`` steps, then a
        cosine decay to ``lr * min_lr_ratio`` at ``steps``.
    grad_clip : maximum global gradient norm (0 = off).
    ema_decay : EMA decay of the sampling weights (warmed up as ``(1+t)/(10+t)``).
    seed : seeds data order, noise and condition hiding.
    out : run folder (checkpoints); ``None`` trains in memory only.
    resume : continue the run in ``out`` from its last checkpoint.
    ckpt_every : checkpoint period in steps (and at the end).
    ckpt_minutes : checkpoint period in minutes of wall-clock time (``None``: by steps only).
    keep_checkpoints : number of newest checkpoint folders kept in ``out/checkpoints``.
    stop_after : stop after this many steps (schedule still follows ``steps``).
    max_minutes : wall-clock budget; stops early with a checkpoint when exceeded.
    device : "auto" (CUDA if available, else CPU), "cpu", "cuda", "cuda:1", ...
    amp : bf16 autocast on CUDA (ignored on CPU).
    progress : show a progress bar (rank 0 only; on a terminal, see :mod:`araneus._progress`).
    threads : torch CPU threads during the run (0: leave torch's setting). On a busy
        2-core machine one thread trained 7x faster than two.
    """

    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    out: str | None = None
    resume: bool = False
    ckpt_every: int = 500
    ckpt_minutes: float | None = 10.0
    keep_checkpoints: int = 2
    stop_after: int | None = None
    max_minutes: float | None = None
    device: str = "auto"
    amp: bool = True
    progress: bool = True
    threads: int = 0

    def __post_init__(self) -> None:
        for name, lo, hi in (
            ("steps", 1, MAX_STEPS), ("batch_size", 1, 65536), ("warmup", 0, MAX_STEPS),
            ("ckpt_every", 1, MAX_STEPS), ("keep_checkpoints", 1, 1000), ("seed", 0, 2**63 - 1),
        ):  # fmt: skip
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}")
        if self.stop_after is not None and not (
            isinstance(self.stop_after, int) and 1 <= self.stop_after <= MAX_STEPS
        ):
            raise ConfigError(f"stop_after must be an integer in [1, {MAX_STEPS}]")
        if not (0 < self.lr <= 1 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be in (0, 1] (larger AdamW steps diverge), got {self.lr}")
        if not (0 <= self.weight_decay <= 10 and 0 <= self.grad_clip <= 1e6):
            raise ConfigError("weight_decay must be in [0, 10] and grad_clip in [0, 1e6]")
        if not 0 <= self.ema_decay < 1 or not 0 < self.min_lr_ratio <= 1:
            raise ConfigError("ema_decay must be in [0, 1) and min_lr_ratio in (0, 1]")
        for name in ("max_minutes", "ckpt_minutes"):
            v = getattr(self, name)
            if v is not None and not (0 < v <= 1e6 and math.isfinite(v)):
                raise ConfigError(f"{name} must be in (0, 1e6] minutes or None, got {v}")
        if self.resume and not self.out:
            raise ConfigError("resume needs an output run folder (out)")
        if (
            isinstance(self.threads, bool)
            or not isinstance(self.threads, int)
            or not (0 <= self.threads <= 1024)
        ):
            raise ConfigError(f"threads must be an integer in [0, 1024] (0: torch's default), "
                              f"got {self.threads!r}")  # fmt: skip


@dataclass
class TrainResult:
    """Outcome of :func:`train`: ``losses`` holds one mean loss per step (rank-averaged)."""

    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    run_dir: str | None = None
    world_size: int = 1

    @property
    def final_loss(self) -> float:
        tail = self.losses[-20:]
        return sum(tail) / len(tail) if tail else float("nan")


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Learning-rate multiplier at ``step`` (0-based): linear warmup then cosine decay."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    span = max(cfg.steps - cfg.warmup, 1)
    p = min((step - cfg.warmup) / span, 1.0)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p))


def resolve_device(name: str):
    """torch device for ``name`` ("auto" = CUDA if available, else CPU)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return dev


def _init_distributed(device) -> tuple[int, int, bool]:
    """(world_size, rank, we_initialised) - joins a torchrun/DDP group if one is set up."""
    import torch
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank(), False
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available():
        return 1, 0, False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_world_size(), dist.get_rank(), True




def _batches(n: int, world: int, rank: int, per_rank: int, seed: int):
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(
        range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True
    )
    per_epoch = len(sampler) // per_rank
    if per_epoch < 1:
        raise InputError(
            f"training split has {n} samples, fewer than one batch of {per_rank} per process"
        )
    cache: dict[int, list[int]] = {}

    def batch(step: int) -> list[int]:
        epoch, off = divmod(step, per_epoch)
        if epoch not in cache:
            cache.clear()
            sampler.set_epoch(epoch)
            cache[epoch] = list(sampler)
        return cache[epoch][off * per_rank : (off + 1) * per_rank]

    return batch


def _loss_module(model, net):
    """The model's whole training loss as one ``nn.Module`` call.

    DDP synchronises gradients only through its wrapped module's ``forward``; models whose
    loss calls several methods of their network (the autoregressive one: ``context``,
    ``forward_full``, heads) are wrapped as a whole this way.
    """
    from torch import nn

    class LossModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, batch, generator):
            return model.training_loss(self.net, batch, generator)

    return LossModule()


def _all_ranks_rng(gen, world: int, device) -> list:
    """Every rank's RNG state (rank order), gathered to all ranks."""
    import torch
    import torch.distributed as dist

    state = gen.get_state()
    if world == 1:
        return [state]
    dev = device if device.type == "cuda" else torch.device("cpu")
    mine = state.to(dev)
    out = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(out, mine)
    return [t.cpu() for t in out]


def _any_rank(flags: list[bool], world: int, device) -> list[bool]:
    """Element-wise OR of boolean flags over all ranks (so every rank decides alike)."""
    import torch
    import torch.distributed as dist

    if world == 1:
        return flags
    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def _choose_checkpoint(run: Path | None, resume: bool, rank: int, world: int):
    """Rank 0 checks the run folder and picks the checkpoint; every rank gets its choice
    (or its error), so all start from the same step even while files change."""
    import torch.distributed as dist

    if world == 1:
        return prepare_run(run, resume) if run else None
    msg: list[Any] = [None]
    if rank == 0:
        try:
            msg = [("ok", prepare_run(run, resume) if run else None)]
        except AraneusError as exc:
            msg = [("error", exc)]
    dist.broadcast_object_list(msg, src=0)
    kind, value = msg[0]
    if kind == "error":
        raise value
    return value


def _start(model, data, cfg: TrainConfig, run: Path | None, rank: int, world: int):
    """Set up ``model`` (fresh, or from the checkpoint to resume); returns that checkpoint."""
    import torch

    ckpt = _choose_checkpoint(run, cfg.resume, rank, world)
    if ckpt is not None:
        meta = read_checkpoint_json(ckpt[1])
        if meta["model"] != model.name:
            raise InputError(f"run {run} holds a {meta['model']!r} model, not {model.name!r}")
        loaded = type(model)._load_from(ckpt[1], meta)
        model.__dict__.update(loaded.__dict__)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)  # seeded weight initialisation, global RNG untouched
            model.setup(data)
    return ckpt


def train(model, data, cfg: TrainConfig) -> TrainResult:
    """Train ``model`` (a :class:`~araneus.models.base.TorchGenerator`) on ``data``.

    On return ``model.net`` holds the EMA weights (the ones to sample with). With
    ``cfg.out`` set, the run folder is checked before any work (writable; without
    ``resume``, not already holding a run) and checkpoints are written there every
    ``ckpt_every`` steps, every ``ckpt_minutes`` minutes and at the end; ``resume``
    continues from the newest complete checkpoint, bit-identically to an uninterrupted run
    with the same number of processes. ``cfg.threads`` sets torch's CPU threads for the
    run (restored afterwards).
    """
    import torch

    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _train_with_threads(model, data, cfg)
    finally:
        torch.set_num_threads(threads_before)


def _train_with_threads(model, data, cfg: TrainConfig) -> TrainResult:
    import torch
    import torch.distributed as dist

    device = resolve_device(cfg.device)
    world, rank, own_group = _init_distributed(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    ok = False
    try:
        res = _train(model, data, cfg, device, world, rank)
        ok = True
        return res
    finally:
        if own_group:
            if ok:
                dist.barrier()
            dist.destroy_process_group()


def _optimise(step, batch, loss_net, net, ema, opt, gen, cfg, amp, world) -> float:
    """One AdamW step on ``batch`` and the EMA update; returns the (rank-mean) loss."""
    import torch
    import torch.distributed as dist

    for g in opt.param_groups:
        g["lr"] = cfg.lr * lr_factor(step, cfg)
    dev = next(net.parameters()).device
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
        loss = loss_net(batch, gen)
    if not torch.isfinite(loss):
        raise InputError(f"training diverged at step {step} (loss {loss.item()}); lower the lr")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
    opt.step()
    decay = min(cfg.ema_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for pe, pn in zip(ema.parameters(), net.parameters()):
            pe.lerp_(pn, 1 - decay)
    lv = loss.detach()
    if world > 1:
        dist.all_reduce(lv)
        lv /= world
    return float(lv)


def _train(model, data, cfg: TrainConfig, device, world: int, rank: int) -> TrainResult:
    import copy

    import torch
    import torch.distributed as dist

    if cfg.batch_size % world:
        raise ConfigError(f"batch_size {cfg.batch_size} is not divisible by {world} processes")
    run = Path(cfg.out) if cfg.out else None
    ckpt = _start(model, data, cfg, run, rank, world)
    per_rank = cfg.batch_size // world
    tensors = {k: v.to(device) for k, v in model.encode(data.subset("train")).items()}
    n_train = next(iter(tensors.values())).shape[0]
    net = model.net.to(device).train()
    ema = copy.deepcopy(net).eval().requires_grad_(False)
    opt = torch.optim.AdamW(
        net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99)
    )
    gen = torch.Generator(device).manual_seed(cfg.seed * 7919 + rank)
    start, losses = 0, []
    if ckpt is not None:
        start, losses, rng = load_checkpoint(ckpt[1], net, opt, rank, world)
        if rng is not None:
            gen.set_state(rng)
        else:  # a rank the saved run did not have: seeded from the seed, rank and step
            gen.manual_seed(cfg.seed * 7919 + rank + 104729 * start)
    batch_of = _batches(n_train, world, rank, per_rank, cfg.seed)
    loss_net = _loss_module(model, net)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        loss_net = DDP(loss_net, device_ids=[device.index] if device.type == "cuda" else None)
    amp = cfg.amp and device.type == "cuda"
    end = min(cfg.steps, cfg.stop_after) if cfg.stop_after else cfg.steps
    t0 = last_ckpt = time.perf_counter()
    info = {"train_config": dataclasses.asdict(cfg), "world_size": world}
    done = start
    bar = Progress(
        f"train {model.name}", end, enabled=cfg.progress and rank == 0, start=start,
        fields={"loss": float("nan")}, fmt="loss {loss:.4f}",
    )  # fmt: skip
    with bar:
        for step in range(start, end):
            idx = torch.as_tensor(batch_of(step), device=device)
            batch = {k: v[idx] for k, v in tensors.items()}
            losses.append(_optimise(step, batch, loss_net, net, ema, opt, gen, cfg, amp, world))
            bar.update(step + 1, loss=losses[-1])
            done = step + 1
            now = time.perf_counter()
            over = cfg.max_minutes is not None and now - t0 > 60 * cfg.max_minutes
            due = cfg.ckpt_minutes is not None and now - last_ckpt > 60 * cfg.ckpt_minutes
            over, due = _any_rank([over, due], world, device)
            if run and (done % cfg.ckpt_every == 0 or done == end or over or due):
                rngs = _all_ranks_rng(gen, world, device)
                if rank == 0:
                    info["final_loss"] = sum(losses[-20:]) / max(len(losses[-20:]), 1)
                    model.net = ema
                    save_checkpoint(
                        run, model, net, opt, rngs, done, losses, info, cfg.keep_checkpoints
                    )
                last_ckpt = time.perf_counter()
            if over:
                break
    if world > 1:
        dist.barrier()  # rank 0 has written the last checkpoint before anyone moves on
    model.net = ema
    model.train_info = {**model.train_info, **info, "step": done}
    return TrainResult(done, losses, time.perf_counter() - t0, str(run) if run else None, world)
