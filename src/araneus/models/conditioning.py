"""Conditioning on named web features, shared by every generative model.

Users give conditions as ``{feature_name: value}`` in physical units, any subset of the
model's feature names. Inside the model, values are mapped to [-1, 1] with the map fitted on
the training split (:class:`FeatureScaler`: affine, on the logarithm for the length-like
features, whose range spans orders of magnitude), and a per-feature *presence* mask
says which were given. During training, features are hidden at random (so any subset works
at sampling time) and, with probability ``p_uncond``, all of them (the unconditional branch
that classifier-free guidance needs). :class:`ConditionEmbedding` turns
``(values, presence)`` into one vector per sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np
import torch
from torch import nn

from ..errors import InputError, ModelError

Conditions = Union[Mapping[str, float], Sequence[Mapping[str, float]], None]  # noqa: UP007 (runtime alias, py3.10)


#: Features normalised on a log scale (positive lengths spanning orders of magnitude).
LOG_FEATURES: tuple[str, ...] = (
    "mean_edge_length",
    "mean_abs_dx",
    "mean_abs_dy",
    "mean_abs_dz",
)
#: Any other positive feature whose training range spans at least this ratio is mapped on a
#: log scale too (e.g. a mechanical descriptor added to a dataset), so a new feature needs
#: no entry here.
LOG_RANGE_RATIO = 20.0
#: Features always normalised on a log scale, whatever a model chooses for the lengths:
#: the mechanical descriptors of :mod:`araneus.mechanics.descriptors` (stiffness per gram
#: spans five decades between the 1st and 99th percentiles of the default data).
ALWAYS_LOG_FEATURES: tuple[str, ...] = (
    "stiffness_x_per_mass",
    "stiffness_y_per_mass",
    "stiffness_z_per_mass",
    "point_stiffness_per_mass",
)


@dataclass
class FeatureScaler:
    """Map of features to [-1, 1] and the position scale of a model.

    Each feature is mapped affinely from [lo, hi] to [-1, 1]; a feature flagged in ``log``
    is mapped the same way on a log scale (``log v`` from ``[log lo, log hi]``). Length-like
    features get the log map, so that orientation *shares* (``mean_abs_dz /
    mean_edge_length``) are differences of well-resolved numbers for small and large webs
    alike; on a linear map over a 300x range of web scales they vanish into the last few
    percent of the range for all but the largest webs.

    Attributes
    ----------
    names : feature names, in column order.
    lo, hi : (F,) training-split minimum and maximum of each feature (physical units).
    pos_scale : length (physical units) that positions are divided by inside the model.
    log : (F,) bool, features normalised on a log scale (all False in checkpoints written
        before the log map existed).
    """

    names: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    pos_scale: float
    log: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self):
        f = len(self.names)
        self.log = np.zeros(f, bool) if self.log is None else np.asarray(self.log, bool)
        if self.log.shape != (f,):
            raise ModelError(f"normaliser log flags must have {f} entries, got {self.log.shape}")

    @classmethod
    def fit(
        cls,
        names: Sequence[str],
        features: np.ndarray,
        pos: np.ndarray,
        mask: np.ndarray,
        log_features: Sequence[str] | None = None,
    ) -> FeatureScaler:
        """Fit on training data: features (S, F), pos (S, L, 3), mask (S, L). Features
        named in ``log_features`` whose training minimum is positive get the log map; by
        default (None) those of :data:`LOG_FEATURES` and any other positive feature whose
        training maximum is at least :data:`LOG_RANGE_RATIO` times its minimum. The
        mechanical descriptors (:data:`ALWAYS_LOG_FEATURES`) get it in either case."""
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != len(names) or not len(f):
            raise InputError(f"features must be (S>0, {len(names)}), got {f.shape}")
        if not np.isfinite(f).all():
            raise InputError("features contain NaN or infinite values")
        real = np.asarray(pos, dtype=np.float64)[np.asarray(mask, dtype=bool)]
        if not len(real) or not np.isfinite(real).all():
            raise InputError("positions are empty or not finite")
        scale = float(np.sqrt((real**2).mean()))
        lo, hi = f.min(0), f.max(0)
        if log_features is None:
            wide = (lo > 0) & (hi >= LOG_RANGE_RATIO * np.where(lo > 0, lo, np.inf))
            log = np.array([n in LOG_FEATURES for n in names]) | wide
        else:
            log = np.array([n in log_features for n in names], dtype=bool)
        log |= np.array([n in ALWAYS_LOG_FEATURES for n in names], dtype=bool)
        log &= lo > 0
        return cls(tuple(names), lo, hi, scale if scale > 0 else 1.0, log)

    def _range(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log flags usable now (positive ``lo``) and the range ends on the mapped scale."""
        log = self.log & (self.lo > 0)
        lo = np.where(log, np.log(np.where(log, self.lo, 1.0)), self.lo)
        hi = np.where(log, np.log(np.where(log, np.maximum(self.hi, self.lo), 1.0)), self.hi)
        return log, lo, np.where(hi > lo, hi - lo, 1.0)

    def normalise(self, values: np.ndarray) -> np.ndarray:
        """Physical (…, F) -> [-1, 1] (values outside the training range extrapolate; on a
        log-mapped feature, values below 1e-3 of the training minimum count as that)."""
        log, lo, span = self._range()
        v = np.asarray(values, dtype=np.float64)
        floor = np.where(log, self.lo * 1e-3, 0.0)
        v = np.where(log, np.log(np.where(log, np.maximum(v, floor), 1.0)), v)
        return 2.0 * (v - lo) / span - 1.0

    def denormalise(self, values: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`normalise`."""
        log, lo, span = self._range()
        v = (np.asarray(values, dtype=np.float64) + 1.0) / 2.0 * span + lo
        return np.where(log, np.exp(np.where(log, v, 0.0)), v)

    def denormalise_torch(self, values: torch.Tensor) -> torch.Tensor:
        """:meth:`denormalise` for a (…, F) tensor, in its dtype and on its device."""
        log, lo, span = self._range()
        kw = {"dtype": values.dtype, "device": values.device}
        v = (values + 1.0) / 2.0 * torch.as_tensor(span, **kw) + torch.as_tensor(lo, **kw)
        return torch.where(torch.as_tensor(log, device=values.device), v.exp(), v)

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "lo": self.lo.tolist(),
            "hi": self.hi.tolist(),
            "pos_scale": self.pos_scale,
            "log": self.log.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> FeatureScaler:
        """Read :meth:`to_dict` output; a normaliser without ``log`` is all linear."""
        try:
            return cls(
                tuple(d["names"]),
                np.asarray(d["lo"], dtype=np.float64),
                np.asarray(d["hi"], dtype=np.float64),
                float(d["pos_scale"]),
                np.asarray(d.get("log", [False] * len(d["names"])), dtype=bool),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"checkpoint normaliser is malformed: {exc}") from None


def parse_conditions(
    conditions: Conditions, n: int, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Turn user conditions into (n, F) physical values and (n, F) presence.

    ``conditions`` is one dict (used for all ``n`` samples), a list of ``n`` dicts (one per
    sample) or ``None``/``{}`` (unconditional). Unknown names, non-finite values and a list
    of the wrong length raise :class:`InputError`.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n (number of samples) must be a positive integer, got {n!r}")
    if conditions is None:
        conditions = {}
    rows = [conditions] * n if isinstance(conditions, Mapping) else list(conditions)
    if len(rows) != n:
        raise InputError(f"got {len(rows)} condition dicts for n={n} samples")
    index = {k: i for i, k in enumerate(names)}
    vals = np.zeros((n, len(names)))
    present = np.zeros((n, len(names)), dtype=bool)
    for r, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError(f"conditions[{r}] must be a dict of feature -> value")
        for k, v in row.items():
            if k not in index:
                raise InputError(f"unknown condition {k!r}; valid: {', '.join(names)}")
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise InputError(f"condition {k}={v!r} is not a number") from None
            if not math.isfinite(fv):
                raise InputError(f"condition {k}={v!r} is not finite")
            vals[r, index[k]] = fv
            present[r, index[k]] = True
    return vals, present


#: How far beyond the training data a length-like condition may lie (factor).
EXTRAPOLATION = 100.0
#: Mean axis projections: never longer than the mean edge length.
_AXES = ("mean_abs_dx", "mean_abs_dy", "mean_abs_dz")


def condition_bounds(
    scaler: FeatureScaler, max_nodes: int, max_degree: int
) -> dict[str, tuple[float, float]]:
    """Range of each condition a model can be asked for (physical units).

    Counts are bounded by what any web of the model has: ``num_nodes`` in
    [2, max_nodes], ``num_edges`` in [1, max_nodes * max_degree / 2], ``mean_degree`` and
    ``max_degree`` in [0, max_degree], ``frac_leaf`` in [0, 1] (constrained decoding meets
    any of these exactly). Lengths and other sizes are non-negative and at most
    :data:`EXTRAPOLATION` times the training split's largest value; ``mean_edge_length``
    also at least its smallest divided by that factor.
    """
    k, big = float(max_degree), EXTRAPOLATION
    hard = {
        "num_nodes": (2.0, float(max_nodes)),
        "num_edges": (1.0, max_nodes * k / 2.0),
        "mean_degree": (0.0, k),
        "max_degree": (0.0, k),
        "frac_leaf": (0.0, 1.0),
    }
    out = {}
    for i, name in enumerate(scaler.names):
        lo, hi = float(scaler.lo[i]), float(scaler.hi[i])
        if name in hard:
            out[name] = hard[name]
        elif name == "mean_edge_length":
            out[name] = (max(lo, 0.0) / big, max(hi, 0.0) * big)
        else:
            out[name] = (0.0, max(hi, 0.0) * big)
    return out


def check_conditions(
    values: np.ndarray,
    present: np.ndarray,
    scaler: FeatureScaler,
    max_nodes: int,
    max_degree: int,
    model: str = "model",
) -> None:
    """Refuse requests a model cannot make: values (n, F) where ``present`` outside
    :func:`condition_bounds`, more edges than ``num_nodes`` allows at the degree cap, and a
    mean axis projection ``mean_abs_d*`` above the ``mean_edge_length`` requested with it.
    The :class:`InputError` names the feature, value, range and the training range."""
    names = scaler.names
    bounds = condition_bounds(scaler, max_nodes, max_degree)
    for i, name in enumerate(names):
        v = values[:, i][present[:, i]]
        a, b = bounds[name]
        bad = v[(v < a) | (v > b) | ((v <= 0) & (name == "mean_edge_length"))]
        if bad.size:
            left = "(" if name == "mean_edge_length" and a <= 0 else "["
            raise InputError(
                f"condition {name}={bad[0]:.6g} is outside what this {model} model can make: "
                f"{left}{a:.4g}, {b:.4g}] (its training data: {scaler.lo[i]:.4g} to "
                f"{scaler.hi[i]:.4g})"
            )

    def col(name: str):
        i = names.index(name) if name in names else None
        return (None, None) if i is None else (values[:, i], present[:, i])

    nv, npres = col("num_nodes")
    ev, epres = col("num_edges")
    if nv is not None and ev is not None:
        cap = np.round(nv) * max_degree / 2.0
        both = npres & epres & (ev > cap)
        if both.any():
            r = int(np.flatnonzero(both)[0])
            raise InputError(
                f"conditions num_nodes={nv[r]:.6g}, num_edges={ev[r]:.6g}: webs of "
                f"{nv[r]:.0f} nodes with degree <= {max_degree} have at most {cap[r]:.0f} edges"
            )
    lv, lpres = col("mean_edge_length")
    for axis in _AXES:
        av, apres = col(axis)
        if lv is None or av is None:
            continue
        both = lpres & apres & (av > lv * (1 + 1e-9))
        if both.any():
            r = int(np.flatnonzero(both)[0])
            raise InputError(
                f"conditions {axis}={av[r]:.6g} > mean_edge_length={lv[r]:.6g}: an edge's "
                "projection on an axis is never longer than the edge"
            )


def training_presence(
    b: int,
    f: int,
    p_hide: float,
    p_uncond: float,
    generator: torch.Generator | None = None,
    device=None,
) -> torch.Tensor:
    """Random (b, f) presence mask for training.

    Each feature is hidden with probability ``p_hide``; each whole condition is dropped
    with probability ``p_uncond`` (classifier-free guidance's unconditional branch).
    """
    keep = torch.rand(b, f, generator=generator, device=device) >= p_hide
    drop_all = torch.rand(b, 1, generator=generator, device=device) < p_uncond
    return keep & ~drop_all


class ConditionEmbedding(nn.Module):
    """Embed ``(values (B, F) in [-1, 1], presence (B, F) bool)`` into (B, width).

    Hidden features contribute nothing but their "absent" flag, so an all-absent condition
    maps to one learned unconditional embedding.
    """

    def __init__(self, n_features: int, width: int):
        super().__init__()
        self.n_features = n_features
        self.net = nn.Sequential(
            nn.Linear(2 * n_features, width), nn.SiLU(), nn.Linear(width, width)
        )

    def forward(self, values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        p = present.to(values.dtype)
        return self.net(torch.cat([values * p, p], dim=-1))


class NodeCountPrior:
    """Conditional prior over node counts (and web scales) for models that fix them
    before sampling.

    If ``num_nodes`` is given, it is used (rounded, clipped to [2, L]). Otherwise the count
    of a training sample is drawn at random among the ``k`` training samples nearest to the
    given (normalised) features; with no features given, from all training samples. The
    scale (mean edge length) is the requested ``mean_edge_length`` if given, else that of
    the same drawn training sample (``lengths``; NaN when the prior has none).
    """

    def __init__(
        self,
        features_norm: np.ndarray,
        counts: np.ndarray,
        names: Sequence[str],
        k: int = 8,
        lengths: np.ndarray | None = None,
    ):
        self.features = np.asarray(features_norm, dtype=np.float32)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.names = tuple(names)
        self.k = k
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.float64)

    def draw(
        self,
        values_norm: np.ndarray,
        present: np.ndarray,
        values_phys: np.ndarray,
        max_nodes: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Node counts (n,) and mean edge lengths (n,) for n requests (class docstring)."""
        n = len(values_norm)
        out = np.empty(n, dtype=np.int64)
        length = np.full(n, np.nan)
        nn_col = self.names.index("num_nodes") if "num_nodes" in self.names else None
        len_col = self.names.index("mean_edge_length") if "mean_edge_length" in self.names else None
        for r in range(n):
            cols = present[r]
            if cols.any():
                d = ((self.features[:, cols] - values_norm[r, cols]) ** 2).sum(1)
                cand = np.argsort(d, kind="stable")[: self.k]
            else:
                cand = np.arange(len(self.counts))
            pick = cand[rng.integers(len(cand))]
            given_n = nn_col is not None and present[r, nn_col]
            out[r] = int(round(values_phys[r, nn_col])) if given_n else self.counts[pick]
            if len_col is not None and present[r, len_col]:
                length[r] = float(values_phys[r, len_col])
            elif self.lengths is not None:
                length[r] = self.lengths[pick]
        return np.clip(out, 2, max_nodes), length
