"""The dataset normaliser: positions scale and per-feature affine map to [-1, 1]."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError


class Normaliser:
    """Positions scale and per-feature affine map to [-1, 1], fitted on training samples.

    Parameters
    ----------
    pos_scale
        Positions are divided by it (the largest absolute centroid-relative coordinate in
        the training split), so normalised training positions lie in [-1, 1].
    feat_min, feat_max
        (F,) per-feature minimum and maximum over the training split. A feature with
        ``max == min`` maps to 0.
    feature_names
        Names of the F features.
    """

    def __init__(self, pos_scale: float, feat_min, feat_max, feature_names: Sequence[str]):
        self.pos_scale = float(pos_scale)
        self.feat_min = np.asarray(feat_min, dtype=np.float64).reshape(-1)
        self.feat_max = np.asarray(feat_max, dtype=np.float64).reshape(-1)
        self.feature_names = tuple(feature_names)
        f = len(self.feature_names)
        if self.feat_min.shape != (f,) or self.feat_max.shape != (f,):
            raise InputError(f"normaliser needs {f} feature minima and maxima")
        if not (np.isfinite(self.pos_scale) and self.pos_scale > 0):
            raise InputError(f"normaliser pos_scale must be positive and finite, got {pos_scale}")
        if not (np.isfinite(self.feat_min).all() and np.isfinite(self.feat_max).all()):
            raise InputError("normaliser feature ranges must be finite")
        if (self.feat_max < self.feat_min).any():
            raise InputError("normaliser feature maxima must be >= minima")

    @classmethod
    def fit(cls, pos: np.ndarray, mask: np.ndarray, features: np.ndarray, names: Sequence[str]):
        """Fit on (S, L, 3) positions, (S, L) mask and (S, F) features (training samples)."""
        real = np.abs(pos[mask]) if mask.any() else np.zeros((0, 3))
        scale = float(real.max()) if real.size and real.max() > 0 else 1.0
        if len(features):
            lo, hi = features.min(axis=0), features.max(axis=0)
        else:
            lo = hi = np.zeros(len(names))
        return cls(scale, lo, hi, names)

    def _span(self) -> np.ndarray:
        span = self.feat_max - self.feat_min
        return np.where(span > 0, span, 1.0)

    def transform_features(self, x: Any) -> np.ndarray:
        """(..., F) physical features -> normalised ([-1, 1] on the training range)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1:] != (len(self.feature_names),):
            raise InputError(f"features must end in dim {len(self.feature_names)}, got {x.shape}")
        y = 2.0 * (x - self.feat_min) / self._span() - 1.0
        return np.where(self.feat_max > self.feat_min, y, 0.0)

    def inverse_features(self, y: Any) -> np.ndarray:
        """(..., F) normalised features -> physical units."""
        y = np.asarray(y, dtype=np.float64)
        if y.shape[-1:] != (len(self.feature_names),):
            raise InputError(f"features must end in dim {len(self.feature_names)}, got {y.shape}")
        return (y + 1.0) * 0.5 * (self.feat_max - self.feat_min) + self.feat_min

    def transform_positions(self, p: Any) -> np.ndarray:
        """Positions (any shape) divided by ``pos_scale``."""
        return np.asarray(p, dtype=np.float64) / self.pos_scale

    def inverse_positions(self, p: Any) -> np.ndarray:
        """Normalised positions back to physical units."""
        return np.asarray(p, dtype=np.float64) * self.pos_scale

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return {
            "pos_scale": self.pos_scale,
            "feat_min": self.feat_min.tolist(),
            "feat_max": self.feat_max.tolist(),
            "feature_names": list(self.feature_names),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Normaliser:
        """Inverse of :meth:`to_dict`; a malformed dict raises :class:`InputError`."""
        try:
            return cls(d["pos_scale"], d["feat_min"], d["feat_max"], d["feature_names"])
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"malformed normaliser dict: {exc!r}") from None

    def __repr__(self) -> str:
        return f"Normaliser(pos_scale={self.pos_scale:.4g}, features={len(self.feature_names)})"
