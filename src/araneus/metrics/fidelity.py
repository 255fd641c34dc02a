"""Conditioning fidelity: requested vs re-measured features.

R^2 compares the achieved values' deviations with the spread of the requested ones, so it
says nothing when the requested values do not vary (one condition asked for many times):
it is then reported as undefined, with that reason, never as a number. The relative error
of every sample against its own requested condition, ``|achieved - requested| /
|requested|``, is reported beside it (median, mean and 90th percentile) and is defined in
either case.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError

#: Reason given for an undefined R^2.
R2_UNDEFINED = "the requested values do not vary"
#: Requested values whose spread is below this fraction of their magnitude do not vary.
_FLAT = 1e-9


def r2_score(y: np.ndarray, yhat: np.ndarray) -> tuple[float | None, str | None]:
    """Coefficient of determination of ``yhat`` for ``y``, and None or the reason it is
    undefined (fewer than two values, or ``y`` constant within 1e-9 of its magnitude)."""
    y, yhat = np.asarray(y, np.float64), np.asarray(yhat, np.float64)
    if len(y) < 2:
        return None, "fewer than two requested values"
    ss_tot = float(((y - y.mean()) ** 2).sum())
    scale = float(np.abs(y).max())
    if ss_tot <= len(y) * (_FLAT * scale) ** 2:
        return None, f"{R2_UNDEFINED} (all {y[0]:.6g})"
    return 1.0 - float(((y - yhat) ** 2).sum()) / ss_tot, None


def _relative_errors(y: np.ndarray, yh: np.ndarray) -> dict:
    nz = y != 0
    if not nz.any():
        return {"median_rel_err": None, "rel_err": None, "p90_rel_err": None, "n_rel": 0}
    rel = np.abs(yh[nz] - y[nz]) / np.abs(y[nz])
    return {
        "median_rel_err": float(np.median(rel)),
        "rel_err": float(rel.mean()),
        "p90_rel_err": float(np.quantile(rel, 0.9)),
        "n_rel": int(nz.sum()),
    }


def fidelity(requested, measured, names: Sequence[str]) -> dict:
    """Per-feature R^2, relative errors and MAE, plus the reference's pooled R^2.

    Parameters
    ----------
    requested, measured
        (S, F) features in physical units; NaN in ``requested`` marks a feature that was
        left free for that sample (excluded from its statistics).
    names
        F feature names.

    Returns
    -------
    dict
        ``per_feature``: ``{name: {"r2", "r2_note", "median_rel_err", "rel_err" (mean),
        "p90_rel_err", "n_rel", "mae", "n"}}`` for every feature requested at least once;
        ``r2`` is None (and ``r2_note`` says why) when the requested values do not vary;
        relative errors are over samples whose requested value is not 0 (``n_rel``).
        ``pooled_r2``: the reference work's single number, one R^2 over all requested
        entries of the features with a defined R^2, each scaled to [-1, 1] on its
        requested range; None (``pooled_note`` says why) when no feature has one.
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
    if np.isinf(r).any():
        raise InputError("requested features must be finite or NaN (free)")
    per, pooled_r, pooled_m = {}, [], []
    for j, name in enumerate(names):
        ok = np.isfinite(r[:, j])
        if not ok.any():
            continue
        y, yh = r[ok, j], m[ok, j]
        r2, note = r2_score(y, yh)
        per[name] = {"r2": r2, "r2_note": note, **_relative_errors(y, yh),
                     "mae": float(np.abs(yh - y).mean()), "n": int(ok.sum())}  # fmt: skip
        if r2 is not None:
            lo, span = y.min(), y.max() - y.min()
            pooled_r.append(2 * (y - lo) / span - 1)
            pooled_m.append(2 * (yh - lo) / span - 1)
    if pooled_r:
        pooled, note = r2_score(np.concatenate(pooled_r), np.concatenate(pooled_m))
        left = [n for n, d in per.items() if d["r2"] is None]
        if left:
            note = f"over the features whose requested values vary (not {', '.join(left)})"
    else:
        pooled, note = None, "no feature's requested values vary"
    return {"per_feature": per, "pooled_r2": pooled, "pooled_note": note}


#: Names of the orientation shares (mean |d*| over mean edge length).
SHARE_NAMES = ("share_x", "share_y", "share_z")


def orientation_shares(features: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(S, 3) scale-free orientation shares ``mean_abs_d* / mean_edge_length``.

    The raw ``mean_abs_d*`` scale with the web; their R^2 is mostly that of the web's
    size. NaN where a needed feature is NaN (free) or the mean edge length is not > 0.
    """
    f = np.asarray(features, dtype=np.float64)
    names = list(names)
    need = ["mean_edge_length", "mean_abs_dx", "mean_abs_dy", "mean_abs_dz"]
    if any(n not in names for n in need):
        return np.full((len(f), 3), np.nan)
    ell = f[:, names.index("mean_edge_length")]
    d = f[:, [names.index(n) for n in need[1:]]]
    good = np.isfinite(ell) & (ell > 0)
    return np.where(good[:, None], d / np.where(good, ell, 1.0)[:, None], np.nan)
