"""Generative models of webs: one interface (:class:`WebGenerator`), a registry, and the
shared conditioning, diffusion math, decoding and networks they are built from, and the
training loop they share (:mod:`~araneus.models.train`)."""

from .base import (
    TorchGenerator,
    WebGenerator,
    available_models,
    get_model,
    load_model,
    register_model,
)
from .pretrained import (
    WEIGHTS_DIR,
    load_model_or_pretrained,
    load_pretrained,
    pretrained_models,
    pretrained_path,
)
from .train import TrainConfig, TrainResult

__all__ = [
    "TrainConfig",
    "TrainResult",
    "WEIGHTS_DIR",
    "load_pretrained",
    "load_model_or_pretrained",
    "pretrained_models",
    "pretrained_path",
    "TorchGenerator",
    "WebGenerator",
    "available_models",
    "get_model",
    "load_model",
    "register_model",
]
