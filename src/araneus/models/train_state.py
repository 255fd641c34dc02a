"""Training checkpoints that survive ``kill -9``: one folder per checkpoint, renamed into place.

A run folder looks like::

    RUN/
      model.json, model.safetensors      newest EMA model (what load_model(RUN) reads)
      checkpoints/
        step-000000400/                  one complete checkpoint
          model.json, model.safetensors  EMA model at that step
          train_state.safetensors        raw weights, AdamW moments, every rank's RNG state
          train_state.json               manifest, written last: step, loss history, optimizer
                                         settings, and the size and SHA-256 of each file
        step-000000425/

A checkpoint is written into ``checkpoints/.step-N.XXXX.tmp/``, flushed to disk, and renamed
to ``step-N`` (one atomic rename), so a checkpoint folder is either complete or absent. The
newest ones (``keep``) are kept; older ones are renamed away before they are deleted. The
run folder's own model pair is then replaced as one unit. Resuming takes the newest
checkpoint whose manifest and files check out (falling back to older ones otherwise);
temporary files and folders left by a killed writer are removed first. No pickles.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from .._util import TMP_SUFFIX, _fsync, atomic_outputs, check_output_path, remove_stale_temps
from ..errors import FormatError, InputError
from .checkpoint import CHECKPOINTS_DIR, CONFIG_FILE, WEIGHTS_FILE, step_dirs

STATE_WEIGHTS = "train_state.safetensors"
STATE_JSON = "train_state.json"
STATE_FORMAT = "araneus-train-state"
STATE_VERSION = 2


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- run folder
def prepare_run(run: Path, resume: bool, clean: bool = True) -> tuple[int, Path] | None:
    """Check the run folder before any work; return the checkpoint to resume from.

    Raises :class:`InputError` when ``run`` cannot be written or (without ``resume``)
    already holds a run, :class:`FormatError` when ``resume`` finds no usable checkpoint.
    Leftover temporary files of killed writers are removed (``clean``: by one process).
    """
    check_output_path(run, "run folder", folder=True)
    for d in (run, run / CHECKPOINTS_DIR) if clean else ():
        remove_stale_temps(d)
        if d.is_dir():
            for p in d.glob(f".*{TMP_SUFFIX}"):
                shutil.rmtree(p, ignore_errors=True)
    found = step_dirs(run)
    if not resume:
        if found or (run / STATE_JSON).exists():
            last = f" (checkpoint at step {found[-1][0]})" if found else ""
            raise InputError(
                f"run folder {run} already holds a training run{last}; continue it with "
                "--resume (resume=True) or choose another output folder"
            )
        return None
    if (run / STATE_JSON).exists() and not found:
        raise FormatError(
            run, "cannot resume: this run was written by an older araneus (no checkpoints/)"
        )
    for step, d in reversed(found):
        problem = verify_checkpoint(d)
        if problem is None:
            return step, d
        print(f"warning: skipping checkpoint {d}: {problem}", file=sys.stderr)
    raise FormatError(
        run,
        "cannot resume: no complete checkpoint in this run folder (killed before the first "
        "one?); start it again without --resume",
    )


def verify_checkpoint(d: Path) -> str | None:
    """Why checkpoint folder ``d`` cannot be resumed from (None if it can): the manifest
    must read and every file it names must have the recorded size and SHA-256."""
    try:
        meta = json.loads((d / STATE_JSON).read_text(encoding="utf-8"))
        files = meta["files"]
        if meta.get("format") != STATE_FORMAT or not isinstance(files, dict):
            return "not an araneus training state"
        for name, rec in files.items():
            p = d / str(name)
            if not p.is_file() or p.stat().st_size != rec["bytes"] or _sha256(p) != rec["sha256"]:
                return f"{name} does not match its manifest"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"manifest unreadable ({exc})"
    return None


# ----------------------------------------------------------------------------- saving
def state_tensors(net, opt, rng_states: list) -> tuple[dict, dict, dict]:
    """Tensors (raw weights, optimizer moments, RNG states) plus the optimizer's tensor
    shapes and non-tensor values."""
    import torch

    tensors: dict[str, torch.Tensor] = {}
    for k, v in net.state_dict().items():
        tensors[f"raw.{k}"] = v.detach().cpu().contiguous()
    shapes: dict[str, list[int]] = {}
    scalars: dict[str, Any] = {}
    for pid, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            key = f"opt.{pid}.{k}"
            if torch.is_tensor(v):
                shapes[key] = list(v.shape)
                tensors[key] = v.detach().cpu().reshape(-1).contiguous()
            else:
                scalars[key] = v
    for r, s in enumerate(rng_states):
        tensors[f"rng.torch.{r}"] = s.cpu().contiguous()
    return tensors, shapes, scalars


def save_checkpoint(
    run: Path, model, net, opt, rng_states: list, step: int, losses: list[float], info: dict,
    keep: int = 2,
) -> Path:  # fmt: skip
    """Write checkpoint ``step`` of ``run`` as one unit (module docstring); ``model.net``
    must hold the EMA weights. Returns the checkpoint folder."""
    from safetensors.torch import save_file

    base = run / CHECKPOINTS_DIR
    base.mkdir(parents=True, exist_ok=True)
    final = base / f"step-{step:09d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".step-{step:09d}.", suffix=TMP_SUFFIX, dir=base))
    try:
        model.train_info = {**info, "step": step}
        model.save(tmp)
        tensors, shapes, scalars = state_tensors(net, opt, rng_states)
        save_file(tensors, str(tmp / STATE_WEIGHTS))
        files = {}
        for name in (WEIGHTS_FILE, CONFIG_FILE, STATE_WEIGHTS):
            _fsync(tmp / name)
            files[name] = {"bytes": (tmp / name).stat().st_size, "sha256": _sha256(tmp / name)}
        manifest = {
            "format": STATE_FORMAT, "version": STATE_VERSION, "step": step, "losses": losses,
            "param_groups": opt.state_dict()["param_groups"], "opt_shapes": shapes,
            "opt_scalars": scalars, "world_size": len(rng_states), "files": files,
        }  # fmt: skip
        (tmp / STATE_JSON).write_text(json.dumps(manifest), encoding="utf-8")
        _fsync(tmp / STATE_JSON)
        _fsync(tmp)
        if final.exists():  # the same step again (a resumed run that stopped right away)
            _remove_dir(final)
        os.rename(tmp, final)
        _fsync(base)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(run, final)
    for _, d in step_dirs(run)[: -max(keep, 1)]:
        _remove_dir(d)
    return final


def _remove_dir(d: Path) -> None:
    """Rename ``d`` out of the ``step-N`` namespace (atomic), then delete it."""
    gone = d.with_name(f".{d.name}.old{TMP_SUFFIX}")
    with contextlib.suppress(OSError):
        os.rename(d, gone)
        shutil.rmtree(gone, ignore_errors=True)


def _publish(run: Path, ckpt: Path) -> None:
    """Copy a checkpoint's model pair to the run folder, as one unit."""
    with atomic_outputs([run / WEIGHTS_FILE, run / CONFIG_FILE]) as (tw, tj):
        shutil.copyfile(ckpt / WEIGHTS_FILE, tw)
        shutil.copyfile(ckpt / CONFIG_FILE, tj)


# ----------------------------------------------------------------------------- loading
def load_checkpoint(ckpt: Path, net, opt, rank: int, world: int) -> tuple[int, list[float], Any]:
    """Restore raw weights and optimizer from checkpoint folder ``ckpt``; returns the step,
    the loss history and this rank's RNG state (None when the run had fewer ranks)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    jpath, wpath = ckpt / STATE_JSON, ckpt / STATE_WEIGHTS
    try:
        meta = json.loads(jpath.read_text(encoding="utf-8"))
        tensors = load_file(str(wpath))
    except (OSError, ValueError, SafetensorError) as exc:
        raise FormatError(ckpt, f"cannot resume: training state unreadable ({exc})") from None
    try:
        step, losses = meta["step"], meta["losses"]
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step {step!r}")
        if not isinstance(losses, list) or len(losses) != step:
            raise ValueError("loss history does not match the step")
        raw = {k[4:]: v for k, v in tensors.items() if k.startswith("raw.")}
        net.load_state_dict(raw, strict=True)
        state: dict[int, dict[str, Any]] = {}
        for key, shape in meta["opt_shapes"].items():
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = tensors[key].reshape(shape)
        for key, v in meta["opt_scalars"].items():
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise FormatError(jpath, f"cannot resume: training state does not fit ({exc})") from None
    saved_world = int(meta.get("world_size", 1))
    if saved_world != world and rank == 0:
        print(
            f"warning: resuming a {saved_world}-process run with {world} process(es): data "
            "order and noise differ from the uninterrupted run",
            file=sys.stderr,
        )
    rng = tensors.get(f"rng.torch.{rank}")
    return step, [float(x) for x in losses], None if rng is None else rng.to(torch.uint8)
