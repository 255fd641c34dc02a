"""Train every registered generative model on the default dataset with recorded settings.

Writes ``src/araneus/weights/<model>.safetensors`` + ``<model>.json`` (the shipped weights)
and keeps the full run folders (resumable) under ``runs/default/<model>``. The settings
used are stored in each checkpoint's JSON (``train.train_config``) and printed.

Usage::

    .venv/bin/python scripts/train_default.py                 # all models, 15 min each
    .venv/bin/python scripts/train_default.py --models sparse --minutes 5
    torchrun --nproc_per_node 2 scripts/train_default.py      # DDP (CPU gloo / CUDA nccl)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "araneus" / "weights"

# Exact settings per model: model config overrides and training settings. Step counts are
# sized for ~15 minutes on 2 CPU cores; ``max_minutes`` is the hard budget.
SETTINGS: dict[str, dict] = {
    "sparse": {
        "model": {"width": 128, "depth": 4, "heads": 4},
        "train": {"steps": 3300, "batch_size": 32, "lr": 1e-3, "warmup": 200},
    },
    "discrete": {
        "model": {"width": 64, "edge_width": 16, "depth": 3, "heads": 4},
        "train": {"steps": 5000, "batch_size": 32, "lr": 1e-3, "warmup": 100},
    },
    "autoregressive": {
        "model": {"width": 128, "depth": 4, "heads": 4, "mixtures": 8},
        "train": {"steps": 4000, "batch_size": 32, "lr": 1e-3, "warmup": 200},
    },
}
DATASET = {"n": 4000, "seed": 0}


def main() -> None:
    from araneus.dataset import WebDataset, default_dataset
    from araneus.models import available_models, get_model
    from araneus.train import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    ap.add_argument("--minutes", type=float, default=15.0, help="time budget per model")
    ap.add_argument("--data", default=str(ROOT / "runs" / "default" / "data.npz"))
    ap.add_argument("--runs", default=str(ROOT / "runs" / "default"))
    args = ap.parse_args()
    rank = int(os.environ.get("RANK", "0"))
    data_path = Path(args.data)
    if data_path.is_file():
        data = WebDataset.load(data_path)
    else:
        data = default_dataset(**DATASET)
        if rank == 0:
            data_path.parent.mkdir(parents=True, exist_ok=True)
            data.save(data_path)
    names = args.models or [m for m in available_models() if m in SETTINGS]
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name not in SETTINGS:
            raise SystemExit(f"no recorded settings for model {name!r}; add them to SETTINGS")
        s = SETTINGS[name]
        run = Path(args.runs) / name
        if rank == 0 and run.exists():
            shutil.rmtree(run)
        cfg = TrainConfig(out=str(run), max_minutes=args.minutes, **s["train"])
        model = get_model(name)(**s["model"])
        t0 = time.perf_counter()
        res = model.fit(data, cfg)
        if rank == 0:
            model.save(WEIGHTS / f"{name}.safetensors")
            size = (WEIGHTS / f"{name}.safetensors").stat().st_size / 2**20
            print(json.dumps({
                "model": name, "steps": res.steps, "final_loss": round(res.final_loss, 5),
                "minutes": round((time.perf_counter() - t0) / 60, 2), "weights_MiB": round(size, 2),
                "dataset": DATASET, "settings": s,
            }))  # fmt: skip


if __name__ == "__main__":
    main()
