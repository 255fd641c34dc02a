"""Conditioning fidelity: requested vs re-measured features."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError


def _r2(y: np.ndarray, yhat: np.ndarray) -> float:
    ss_res = float(((y - yhat) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return 1.0 - ss_res / ss_tot


def fidelity(requested, measured, names: Sequence[str]) -> dict:
    """Per-feature R^2, MAE and mean relative error, plus the reference's pooled R^2.

    Parameters
    ----------
    requested, measured
        (S, F) features in physical units; NaN in ``requested`` marks a feature that was
        left free for that sample (excluded from its statistics).
    names
        F feature names.

    Returns
    -------
    ``{"per_feature": {name: {"r2", "mae", "rel_err", "n"}}, "pooled_r2": float}``. The
    pooled R^2 (the reference work's single number) is taken over all requested entries
    after min-max scaling each feature to [-1, 1] on the requested values' range. A
    feature whose requested values are all equal has R^2 1 if matched exactly, else 0.
    """
    r = np.asarray(requested, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    if r.ndim != 2 or r.shape != m.shape or r.shape[1] != len(names):
        raise InputError(
            f"requested and measured must both be (S, {len(names)}), got {r.shape} and {m.shape}"
        )
    if not len(r):
        raise InputError("fidelity needs at least one sample")
    if not np.isfinite(m).all():
        raise InputError("measured features must be finite")
    per, pooled_r, pooled_m = {}, [], []
    for j, name in enumerate(names):
        ok = np.isfinite(r[:, j])
        if not ok.any():
            continue
        y, yh = r[ok, j], m[ok, j]
        rel = np.abs(yh - y) / np.maximum(np.abs(y), 1e-12)
        per[name] = {
            "r2": _r2(y, yh),
            "mae": float(np.abs(yh - y).mean()),
            "rel_err": float(rel.mean()),
            "n": int(ok.sum()),
        }
        lo, hi = y.min(), y.max()
        span = hi - lo if hi > lo else 1.0
        pooled_r.append(2 * (y - lo) / span - 1)
        pooled_m.append(2 * (yh - lo) / span - 1)
    pooled = _r2(np.concatenate(pooled_r), np.concatenate(pooled_m)) if per else float("nan")
    return {"per_feature": per, "pooled_r2": pooled}
