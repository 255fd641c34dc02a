"""Pretrained weights shipped inside the package (``araneus/weights/<model>.*``).

Each model is an ordinary checkpoint pair (``<model>.json`` + ``<model>.safetensors``) written by
``scripts/train_default.py``, which records its exact settings in the JSON; rerun that
script to reproduce or refresh them. Nothing is downloaded at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .base import WebGenerator, load_model

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def pretrained_models() -> list[str]:
    """Names of the models with shipped weights (sorted)."""
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(
        p.stem for p in WEIGHTS_DIR.glob("*.json") if p.with_suffix(".safetensors").is_file()
    )


def pretrained_path(name: str) -> Path:
    """Path (``<name>.json``) of the shipped checkpoint of model ``name``."""
    names = pretrained_models()
    if name not in names:
        have = ", ".join(names) or "none (run scripts/train_default.py)"
        raise InputError(f"no pretrained weights for model {name!r}; available: {have}")
    return WEIGHTS_DIR / f"{name}.json"


def load_pretrained(name: str) -> WebGenerator:
    """Load the shipped pretrained model ``name`` (e.g. ``"sparse"``)."""
    return load_model(pretrained_path(name))


def load_model_or_pretrained(spec: str | os.PathLike) -> WebGenerator:
    """A model from a checkpoint path, or the shipped model of that name.

    ``spec`` is a checkpoint folder, a ``STEM.json``/``STEM.safetensors`` path, or, when
    no such path exists, a shipped model's name (``"sparse"``, ``"discrete"``,
    ``"autoregressive"``; see :func:`pretrained_models`).
    """
    p = Path(spec)
    if os.path.lexists(p) or p.suffix in (".json", ".safetensors") or len(p.parts) > 1:
        return load_model(p)
    if str(spec) in pretrained_models():
        return load_pretrained(str(spec))
    have = ", ".join(pretrained_models()) or "none"
    raise InputError(
        f"{spec}: no such checkpoint folder, and no shipped model of that name "
        f"(shipped: {have})"
    )
