"""Train every registered generative model on the default dataset with recorded settings.

Writes ``src/araneus/weights/<model>.safetensors`` + ``<model>.json`` (the shipped weights)
and keeps the full run folders (resumable) under ``runs/default/<model>``. The settings
used are stored in each checkpoint's JSON (``train.train_config``, and ``train.recipe``:
dataset, model settings, where and how long it trained) and printed.

The conditions are whatever features the dataset carries: the seven standard ones plus
any ``--extra`` names (e.g. mechanical descriptors once the dataset offers them); the
models size their condition embedding from the dataset's feature names, so nothing else
changes.

Budget: each model's step count is sized to about 15 minutes of one CPU thread (the time
a quiet 2-core machine needs with ``--threads 1``); the process CPU time is recorded
beside the wall-clock time, since on a busy machine the wall clock runs up to twice as
long for the same work. ``--minutes`` is a hard wall-clock cap.

Usage::

    .venv/bin/python scripts/train_default.py                 # all models, one thread each
    .venv/bin/python scripts/train_default.py --models sparse --minutes 30
    .venv/bin/python scripts/train_default.py --extra extent_z,max_degree --out-weights w/
    torchrun --nproc_per_node 2 scripts/train_default.py      # DDP (CPU gloo / CUDA nccl)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "araneus" / "weights"

# Exact settings per model: model config overrides and training settings. Step counts are
# sized for ~15 minutes of one CPU thread each (measured as process CPU time).
SETTINGS: dict[str, dict] = {
    "sparse": {
        "model": {"width": 128, "depth": 4, "heads": 4, "edge_loss": 1.0, "slot_weight": 2.0},
        "train": {"steps": 3200, "batch_size": 32, "lr": 1e-3, "warmup": 200},
    },
    "discrete": {
        "model": {"width": 64, "edge_width": 16, "depth": 3, "heads": 4, "edge_loss": 1.0},
        "train": {"steps": 1800, "batch_size": 32, "lr": 1e-3, "warmup": 100},
    },
    "autoregressive": {
        "model": {"width": 128, "depth": 4, "heads": 4, "mixtures": 8},
        "train": {"steps": 6000, "batch_size": 32, "lr": 1e-3, "warmup": 200},
    },
}
#: The default dataset: 4000 samples with the silk mechanical descriptors (stiffness per
#: gram, :mod:`araneus.mechanics.descriptors`) beside the geometric features, so every
#: model can be conditioned on them (``araneus design``).
DATASET = {"n": 4000, "seed": 0, "mechanics": "silk"}


def _where(threads: int) -> str:
    """A line naming the machine the run used."""
    import torch

    dev = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{dev}, {platform.machine()}, {os.cpu_count()} cores, {threads or 'default'} torch "
        f"thread(s), load average {load:.1f} at the start"
    )


def main() -> None:
    from araneus.dataset import WebDataset, default_dataset
    from araneus.models import available_models, get_model
    from araneus.models.train import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    ap.add_argument("--minutes", type=float, default=45.0, help="wall-clock cap per model")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--extra", default="", help="extra dataset features (comma-separated)")
    ap.add_argument("--data", default=None, help="dataset .npz (default: built afresh)")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "default"))
    ap.add_argument("--out-weights", default=str(WEIGHTS), help="where the weights go")
    args = ap.parse_args()
    rank = int(os.environ.get("RANK", "0"))
    extra = tuple(e for e in args.extra.split(",") if e)
    spec = {"builder": "default_dataset", **DATASET,
            **({"extra_features": list(extra)} if extra else {})}  # fmt: skip
    tag = "data" + ("_" + "_".join(extra) if extra else "")
    if args.data:
        data = WebDataset.load(args.data)
    else:  # built afresh (a few seconds), so a copy left by older builders is never reused
        data = default_dataset(DATASET["n"], seed=DATASET["seed"], mechanics=DATASET["mechanics"],
                               extra_features=extra)  # fmt: skip
        if rank == 0:  # the data each run trained on, kept beside the runs
            data_path = Path(args.runs) / f"{tag}.npz"
            data_path.parent.mkdir(parents=True, exist_ok=True)
            data.save(data_path)
    names = args.models or [m for m in available_models() if m in SETTINGS]
    weights = Path(args.out_weights)
    weights.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name not in SETTINGS:
            raise SystemExit(f"no recorded settings for model {name!r}; add them to SETTINGS")
        s = SETTINGS[name]
        run = Path(args.runs) / name
        if rank == 0 and run.exists():
            shutil.rmtree(run)
        cfg = TrainConfig(out=str(run), max_minutes=args.minutes, threads=args.threads,
                          **s["train"])  # fmt: skip
        model = get_model(name)(**s["model"])
        where = _where(args.threads)
        t0, c0 = time.perf_counter(), time.process_time()
        res = model.fit(data, cfg)
        wall, cpu = (time.perf_counter() - t0) / 60, (time.process_time() - c0) / 60
        if rank == 0:
            recipe = {
                "dataset": {**({"file": args.data} if args.data else spec),
                            "features": list(data.feature_names)},
                "settings": s, "trained_on": where, "steps": res.steps,
                "wall_minutes": round(wall, 2), "cpu_minutes": round(cpu, 2),
                "script": "scripts/train_default.py",
            }  # fmt: skip
            model.train_info = {**model.train_info, "recipe": recipe}
            model.save(weights / f"{name}.safetensors")
            size = (weights / f"{name}.safetensors").stat().st_size / 2**20
            print(json.dumps({"model": name, "final_loss": round(res.final_loss, 5),
                              "weights_MiB": round(size, 2), **recipe}))  # fmt: skip


if __name__ == "__main__":
    main()
