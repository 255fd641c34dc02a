"""Validation helpers shared by the builder config dataclasses."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from .resample import parse_resolution


def positive(name: str, value: float) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number > 0."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")


def non_negative(name: str, value: float) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number >= 0."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")


def positive_fields(cfg: object, *names: str) -> None:
    """:func:`positive` for each named field of the config dataclass ``cfg``."""
    for name in names:
        positive(name, getattr(cfg, name))


def non_negative_fields(cfg: object, *names: str) -> None:
    """:func:`non_negative` for each named field of the config dataclass ``cfg``."""
    for name in names:
        non_negative(name, getattr(cfg, name))


def finite(name: str, value: float) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")


def int_range(name: str, value: int, lo: int, hi: int) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an int in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")


def fraction(name: str, value: float, lo: float = 0.0, hi: float = 1.0) -> None:
    """Raise :class:`ConfigError` unless ``lo <= value <= hi``."""
    finite(name, value)
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must lie in [{lo}, {hi}], got {value!r}")


def less(name_a: str, a: float, name_b: str, b: float, why: str) -> None:
    """Raise :class:`ConfigError` unless ``a < b``."""
    if not a < b:
        raise ConfigError(f"{name_a} ({a}) must be smaller than {name_b} ({b}): {why}")


def resolution_field(cfg: object) -> None:
    """Canonicalise the frozen config's ``resolution`` ("auto" or a length >= 0, mm)."""
    object.__setattr__(cfg, "resolution", parse_resolution(cfg.resolution))
