"""Maximum mean discrepancy between two sets of per-web descriptors.

Kernels (all Gaussian in a distance d, ``k = exp(-d^2 / (2 sigma^2))``):

``emd``
    d = earth mover's distance between two 1-D histograms on the same bins, in units of
    the bin coordinate (GraphRNN, You et al. 2018);
``tv``
    d = total variation distance ``0.5 * sum |p - q|`` (GRAN, Liao et al. 2019);
``l2``
    d = Euclidean distance between descriptor vectors (GraphRNN's orbit statistic).

``MMD^2 = mean k(X, X) + mean k(Y, Y) - 2 mean k(X, Y)`` (the biased V-statistic, as in
GraphRNN/GRAN, so it is >= 0 and exactly 0 for identical sets).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from ..errors import InputError

KERNELS = ("emd", "tv", "l2")


def _pairwise(x: np.ndarray, y: np.ndarray, kind: str, bin_width: float) -> np.ndarray:
    """(n, m) pairwise distances between rows of x and y."""
    if kind == "l2":
        return cdist(x, y, "euclidean")
    if kind == "emd":  # 1-D EMD = L1 distance of the cumulative histograms times bin width
        return cdist(np.cumsum(x, axis=1), np.cumsum(y, axis=1), "cityblock") * bin_width
    return 0.5 * cdist(x, y, "cityblock")


def mmd2(
    x: np.ndarray, y: np.ndarray, kernel: str = "emd", sigma: float = 1.0, bin_width: float = 1.0
) -> float:
    """MMD^2 between descriptor sets ``x`` (n, B) and ``y`` (m, B).

    Parameters
    ----------
    x, y
        Rows are per-web descriptors: normalised histograms on common bins for ``emd`` and
        ``tv``, any vectors for ``l2``. Both need at least one row.
    kernel
        ``"emd"``, ``"tv"`` or ``"l2"``.
    sigma
        Kernel bandwidth, in the units of the distance.
    bin_width
        Spacing of the histogram bins (EMD only): distances come out in bin-coordinate units.
    """
    if kernel not in KERNELS:
        raise InputError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if not (np.isfinite(sigma) and sigma > 0):
        raise InputError(f"sigma must be positive, got {sigma}")
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    if not len(x) or not len(y):
        raise InputError("MMD needs at least one web in each set")
    if x.shape[1] != y.shape[1]:
        raise InputError(f"descriptor lengths differ: {x.shape[1]} vs {y.shape[1]}")

    def k(a, b):
        d = _pairwise(a, b, kernel, bin_width)
        return np.exp(-(d**2) / (2.0 * sigma**2)).mean()

    return float(max(k(x, x) + k(y, y) - 2.0 * k(x, y), 0.0))


#: Baseline MMD^2 below which no ratio is given: a kernel this flat (mean exp(-d^2 /
#: 2 sigma^2) within 1e-6 of 1) means the statistic does not tell the two sets apart.
MMD_FLOOR = 1e-6


def mmd_ratio(value: float, baseline: float, floor: float = MMD_FLOOR) -> dict:
    """``value / baseline`` of two MMD^2 figures, guarded against a degenerate baseline.

    Parameters
    ----------
    value
        MMD^2 of the generated webs against the reference.
    baseline
        MMD^2 of data against the same reference (e.g. train vs test).
    floor
        Smallest baseline a ratio is given for.

    Returns
    -------
    dict
        ``ratio`` (None when the baseline is below ``floor`` or either figure is not a
        finite number >= 0), ``value``, ``baseline``, ``floor`` and ``note`` (why there is
        no ratio, else None).
    """
    try:
        value, baseline = float(value), float(baseline)
    except (TypeError, ValueError):
        value = baseline = float("nan")
    out = {"ratio": None, "value": value, "baseline": baseline, "floor": floor, "note": None}
    if not all(np.isfinite(v) and v >= 0 for v in (value, baseline)):
        out["note"] = "an MMD^2 figure is missing or not a finite number >= 0"
    elif baseline < floor:
        out["note"] = (f"the baseline MMD^2 {baseline:.2g} is below the floor {floor:.0e}: "
                       "the statistic does not separate the data's own sets")  # fmt: skip
    else:
        out["ratio"] = value / baseline
    return out
