"""All metrics of a set of generated webs at once (:func:`evaluate`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..features import FEATURE_NAMES, features_table
from ..web import WebGraph
from .distribution import distribution_mmd
from .fidelity import SHARE_NAMES, fidelity, orientation_shares
from .geometry import GEOMETRY_TOL
from .mmd import MMD_FLOOR, mmd_ratio
from .structure import STRUCTURE_KEYS, structure_ratio, structure_summary
from .vun import vun


def requested_from_meta(webs: Sequence[WebGraph]) -> np.ndarray | None:
    """(S, 7) requested features from ``web.meta["requested"]`` dicts (NaN = free), or None."""
    reqs = [w.meta.get("requested") for w in webs]
    if not any(isinstance(r, dict) for r in reqs):
        return None
    out = np.full((len(webs), len(FEATURE_NAMES)), np.nan)
    for i, r in enumerate(reqs):
        for j, name in enumerate(FEATURE_NAMES):
            if isinstance(r, dict) and r.get(name) is not None:
                out[i, j] = float(r[name])
    return out


def _repair(decode_stats: Any) -> dict | None:
    if decode_stats is None:
        return None
    d = decode_stats.as_dict() if hasattr(decode_stats, "as_dict") else dict(decode_stats)
    if "repair_rate" not in d:
        raise InputError("decode_stats needs a repair rate (a DecodeStats or its as_dict())")
    return d


def _structure(generated, reference) -> dict:
    g, r = structure_summary(generated), structure_summary(reference)
    ratio = {}
    for k in STRUCTURE_KEYS:
        value, note = structure_ratio(g[k], r[k])
        ratio[k] = {"ratio": value, "note": note}
    return {"generated": g, "reference": r, "ratio": ratio}


def _fidelity(requested, generated_features) -> dict | None:
    if requested is None:
        return None
    req = np.asarray(requested, dtype=np.float64)
    if req.shape != generated_features.shape:
        raise InputError(
            f"requested must be (S, {len(FEATURE_NAMES)}) for S generated webs, got {req.shape}"
        )
    fid = fidelity(req, generated_features, FEATURE_NAMES)
    rs = orientation_shares(req, FEATURE_NAMES)
    gs = orientation_shares(generated_features, FEATURE_NAMES)
    gs[~np.isfinite(gs)] = 0.0  # a web without edges has no orientation: counted as 0
    fid["orientation_shares"] = fidelity(rs, gs, SHARE_NAMES) if np.isfinite(rs).any() else None
    return fid


def evaluate(
    generated: Sequence[WebGraph],
    reference: Sequence[WebGraph],
    train: Sequence[WebGraph] | None = None,
    requested: np.ndarray | None = None,
    K: int = 5,  # noqa: N803
    kernel: str = "emd",
    geometry_tol: float = GEOMETRY_TOL,
    baseline: Sequence[WebGraph] | None = None,
    decode_stats: Any = None,
    mmd_floor: float = MMD_FLOOR,
    label: str | None = None,
) -> dict:
    """All metrics of ``generated`` against ``reference`` webs.

    Parameters
    ----------
    generated
        Generated webs.
    reference
        Held-out real/reference webs for the distribution distances and the triangle
        and leaf figures of the data.
    train
        Training webs for novelty (None: novelty is not measured).
    requested
        (S, 7) requested conditioning features (NaN = free); default from the webs'
        ``meta["requested"]`` if present. Fidelity is skipped without it.
    K
        Degree cap of the validity check.
    kernel
        ``"emd"`` or ``"tv"`` (see :func:`distribution_mmd`).
    geometry_tol
        Tolerance of geometric sameness (fraction of the mean edge length).
    baseline
        Data webs (e.g. a training subset as large as ``generated``) whose MMD^2 to the
        reference is the yardstick: each statistic's ratio generated / baseline is given
        where the baseline is at least ``mmd_floor`` (:func:`mmd_ratio`).
    decode_stats
        The generating model's ``last_decode_stats`` (a ``DecodeStats`` or its dict) for
        the repair rate.
    label
        What was sampled and how (e.g. "model alone"), carried into the report.

    Returns
    -------
    dict
        JSON-serialisable: ``label``, ``n_generated``, ``n_reference``, ``n_baseline``,
        ``kernel``, ``mmd`` (MMD^2 per statistic), ``mmd_baseline`` and ``mmd_ratio`` (per
        statistic, or None without ``baseline``), ``vun``, ``structure`` (triangles and
        leaves of both sets and their ratios), ``fidelity`` (or None, with
        ``orientation_shares``), ``repair`` (or None) and per-feature means of both sets.
    """
    generated, reference = list(generated), list(reference)
    if not generated or not reference:
        raise InputError("evaluate needs at least one generated and one reference web")
    if baseline is not None and not len(baseline):
        raise InputError("baseline needs at least one web (or None)")
    if requested is None:
        requested = requested_from_meta(generated)
    fg, fr = features_table(generated), features_table(reference)
    mmd = distribution_mmd(generated, reference, kernel)
    base = None if baseline is None else distribution_mmd(list(baseline), reference, kernel)
    ratio = None if base is None else {k: mmd_ratio(v, base[k], mmd_floor) for k, v in mmd.items()}
    return {
        "label": label,
        "n_generated": len(generated),
        "n_reference": len(reference),
        "n_baseline": None if baseline is None else len(baseline),
        "kernel": kernel,
        "mmd": mmd,
        "mmd_baseline": base,
        "mmd_ratio": ratio,
        "vun": vun(generated, train, K, geometry_tol),
        "structure": _structure(generated, reference),
        "fidelity": _fidelity(requested, fg),
        "repair": _repair(decode_stats),
        "feature_means": {
            "generated": dict(zip(FEATURE_NAMES, fg.mean(axis=0).tolist())),
            "reference": dict(zip(FEATURE_NAMES, fr.mean(axis=0).tolist())),
        },
    }
