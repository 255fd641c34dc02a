"""Segment reductions: per-web sums, maxima, medians and percentiles of values over the
disjoint union of many webs (every value carries the index of the web it belongs to).

One web is the case ``seg = zeros, n = 1``: the single-web and batched mechanics share
these, so that both compute the same numbers the same way.
"""

from __future__ import annotations

import numpy as np


def seg_sum(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """(n,) sums of ``values`` grouped by segment ids ``seg``."""
    return np.bincount(seg, weights=values, minlength=n)[:n]


def seg_max(values: np.ndarray, seg: np.ndarray, n: int, empty: float = -np.inf) -> np.ndarray:
    """(n,) maxima of ``values`` per segment (``empty`` where a segment has none)."""
    out = np.full(n, empty, dtype=np.float64)
    if len(values):
        np.maximum.at(out, seg, values)
    return out


def _sorted(values: np.ndarray, seg: np.ndarray, n: int):
    """Values sorted within their segments, each segment's start and count."""
    values = np.asarray(values, np.float64)
    seg = np.asarray(seg, np.int64)
    order = np.lexsort((values, seg))
    count = np.bincount(seg, minlength=n)[:n]
    start = np.r_[0, np.cumsum(count)[:-1]]
    return values[order], start, count


def seg_percentile(values: np.ndarray, seg: np.ndarray, n: int, q: float) -> np.ndarray:
    """(n,) ``q``-th percentiles (0-100) per segment, as :func:`numpy.percentile` (linear
    interpolation between the two nearest ranks); NaN for an empty segment."""
    v, start, count = _sorted(values, seg, n)
    out = np.full(n, np.nan)
    ok = count > 0
    rank = (count[ok] - 1) * (q / 100.0)
    lo = np.floor(rank).astype(np.int64)
    hi = np.minimum(lo + 1, count[ok] - 1)
    frac = rank - lo
    a, b = v[start[ok] + lo], v[start[ok] + hi]
    out[ok] = np.where(frac >= 0.5, b - (b - a) * (1 - frac), a + (b - a) * frac)
    return out


def seg_median(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """(n,) medians per segment, as :func:`numpy.median` (mean of the two middle values
    for an even count); NaN for an empty segment."""
    v, start, count = _sorted(values, seg, n)
    out = np.full(n, np.nan)
    ok = count > 0
    lo = start + (count - 1) // 2
    hi = start + count // 2
    out[ok] = 0.5 * (v[lo[ok]] + v[hi[ok]])
    return out
