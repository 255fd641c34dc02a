"""Generative models of webs: one interface (:class:`WebGenerator`), a registry, and the
shared conditioning, diffusion math, decoding and networks they are built from."""

from .base import (
    TorchGenerator,
    WebGenerator,
    available_models,
    get_model,
    load_model,
    register_model,
)

__all__ = [
    "TorchGenerator",
    "WebGenerator",
    "available_models",
    "get_model",
    "load_model",
    "register_model",
]
