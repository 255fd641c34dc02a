"""Training loop shared by all torch generative models.

AdamW with linear warmup and cosine decay, gradient clipping, EMA weights, seeded noise and
data order, checkpoints that resume exactly (the loss curve after a resume is the one the
uninterrupted run would have produced), a rich progress bar, torch.distributed DDP when
launched by ``torchrun`` (gloo on CPU, NCCL on CUDA) and bf16 autocast on CUDA.

A run folder holds the model checkpoint (``model.safetensors`` + ``model.json``, EMA
weights, usable by :func:`araneus.models.load_model`) and the training state
(``train_state.safetensors`` + ``train_state.json``: raw weights, optimizer moments, RNG
state, step, loss history). No pickles anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._util import atomic_output, write_text_atomic
from .errors import ConfigError, FormatError, InputError

STATE_WEIGHTS = "train_state.safetensors"
STATE_JSON = "train_state.json"


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
    stop_after : stop after this many steps (schedule still follows ``steps``).
    max_minutes : wall-clock budget; stops early with a checkpoint when exceeded.
    device : "auto" (CUDA if available, else CPU), "cpu", "cuda", "cuda:1", ...
    amp : bf16 autocast on CUDA (ignored on CPU).
    progress : show a progress bar (rank 0 only).
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
    stop_after: int | None = None
    max_minutes: float | None = None
    device: str = "auto"
    amp: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError(
                f"steps and batch_size must be >= 1, got {self.steps}, {self.batch_size}"
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be positive and finite, got {self.lr}")
        if self.warmup < 0 or self.ckpt_every < 1 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError("warmup, weight_decay and grad_clip must be >= 0, ckpt_every >= 1")
        if not 0 <= self.ema_decay < 1 or not 0 < self.min_lr_ratio <= 1:
            raise ConfigError("ema_decay must be in [0, 1) and min_lr_ratio in (0, 1]")
        if self.resume and not self.out:
            raise ConfigError("resume needs an output run folder (out)")


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


# ----- checkpoint state --------------------------------------------------------------------
def _save_state(
    run: Path, model, net, opt, gen, step: int, losses: list[float], cfg: TrainConfig, world: int
) -> None:
    import torch
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for k, v in net.state_dict().items():
        tensors[f"raw.{k}"] = v.detach().cpu().contiguous()
    sd = opt.state_dict()
    shapes: dict[str, list[int]] = {}
    scalars: dict[str, Any] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            key = f"opt.{pid}.{k}"
            if torch.is_tensor(v):
                shapes[key] = list(v.shape)
                tensors[key] = v.detach().cpu().reshape(-1).contiguous()
            else:
                scalars[key] = v
    tensors["rng.torch"] = gen.get_state().cpu()
    run.mkdir(parents=True, exist_ok=True)
    model.train_info = {
        "step": step,
        "train_config": dataclasses.asdict(cfg),
        "world_size": world,
        "final_loss": sum(losses[-20:]) / max(len(losses[-20:]), 1),
    }
    with atomic_output(run / STATE_WEIGHTS) as tmp:
        save_file(tensors, str(tmp))
    meta = {
        "step": step,
        "losses": losses,
        "param_groups": sd["param_groups"],
        "opt_shapes": shapes,
        "opt_scalars": scalars,
        "rng_device": str(gen.device),
        "world_size": world,
    }
    write_text_atomic(run / STATE_JSON, json.dumps(meta))
    model.save(run)  # EMA weights last: its presence marks a complete checkpoint


def _load_state(run: Path, net, opt, gen) -> tuple[int, list[float]]:
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        meta = json.loads((run / STATE_JSON).read_text(encoding="utf-8"))
        tensors = load_file(str(run / STATE_WEIGHTS))
    except FileNotFoundError:
        raise FormatError(run, "cannot resume: no training state in this run folder") from None
    except (OSError, json.JSONDecodeError, SafetensorError) as exc:
        raise FormatError(run, f"cannot resume: training state unreadable ({exc})") from None
    net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("raw.")})
    state: dict[int, dict[str, Any]] = {}
    for key, shape in meta["opt_shapes"].items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = tensors[key].reshape(shape)
    for key, v in meta["opt_scalars"].items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    gen.set_state(tensors["rng.torch"].to(torch.uint8))
    return int(meta["step"]), list(meta["losses"])


# ----- the loop ----------------------------------------------------------------------------
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


def train(model, data, cfg: TrainConfig) -> TrainResult:
    """Train ``model`` (a :class:`~araneus.models.base.TorchGenerator`) on ``data``.

    On return ``model.net`` holds the EMA weights (the ones to sample with). With
    ``cfg.out`` set, checkpoints are written there every ``ckpt_every`` steps and at the end.
    """
    import copy

    import torch
    import torch.distributed as dist

    device = resolve_device(cfg.device)
    world, rank, own_group = _init_distributed(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    run = Path(cfg.out) if cfg.out else None
    resuming = bool(cfg.resume and run and (run / STATE_JSON).exists())
    if cfg.resume and not resuming:
        raise FormatError(run, "cannot resume: no training state in this run folder")
    if resuming:
        from .models.base import read_checkpoint_json

        meta = read_checkpoint_json(run)
        if meta["model"] != model.name:
            raise InputError(f"run {run} holds a {meta['model']!r} model, not {model.name!r}")
        loaded = type(model)._load_from(run, meta)
        model.__dict__.update(loaded.__dict__)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)  # seeded weight initialisation, global RNG untouched
            model.setup(data)
    if cfg.batch_size % world:
        raise ConfigError(f"batch_size {cfg.batch_size} is not divisible by {world} processes")
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
    if resuming:
        start, losses = _load_state(run, net, opt, gen)
    batch_of = _batches(n_train, world, rank, per_rank, cfg.seed)
    train_net = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_net = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)
    amp = cfg.amp and device.type == "cuda"
    end = min(cfg.steps, cfg.stop_after) if cfg.stop_after else cfg.steps
    t0 = time.perf_counter()
    progress = _progress(cfg.progress and rank == 0, model.name, start, end)
    done = start
    try:
        for step in range(start, end):
            idx = torch.as_tensor(batch_of(step), device=device)
            batch = {k: v[idx] for k, v in tensors.items()}
            for g in opt.param_groups:
                g["lr"] = cfg.lr * lr_factor(step, cfg)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = model.training_loss(train_net, batch, gen)
            if not torch.isfinite(loss):
                raise InputError(
                    f"training diverged at step {step} (loss {loss.item()}); lower the lr"
                )
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
            losses.append(float(lv))
            progress.update(step + 1, losses[-1])
            done = step + 1
            over = cfg.max_minutes is not None and time.perf_counter() - t0 > 60 * cfg.max_minutes
            if world > 1:
                flag = torch.tensor(float(over), device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                over = bool(flag.item())
            if run and rank == 0 and (done % cfg.ckpt_every == 0 or done == end or over):
                model.net = ema
                _save_state(run, model, net, opt, gen, done, losses, cfg, world)
            if over:
                break
    finally:
        progress.close()
        if own_group:
            dist.barrier()
            dist.destroy_process_group()
    model.net = ema
    model.train_info = {**model.train_info, "step": done, "world_size": world}
    return TrainResult(done, losses, time.perf_counter() - t0, str(run) if run else None, world)


class _progress:
    """Rich progress bar with the running loss (a no-op when disabled)."""

    def __init__(self, enabled: bool, name: str, start: int, total: int):
        self.bar = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(f"train {name}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("train", total=total, completed=start, loss=float("nan"))

    def update(self, done: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, loss=loss)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
