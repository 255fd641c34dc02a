"""Fitting a design's proportions: stretches along x, y, z that meet the targets (FE).

A web stretched by factors ``exp(s)`` along the axes changes its descriptors smoothly
(pretensioned silk: a uniform stretch ``exp(s)`` scales every stiffness per gram by exactly
``exp(-2 s)``). :func:`fit_stretch` finds, for many webs at once, the log stretches that
bring the targeted descriptors to their values: damped Gauss-Newton on
``|log d(s) - log t|^2`` with the Jacobian by finite differences of the batched FE
descriptors (three extra analyses per step). The design loop uses it two ways: the
stretched best designs' geometric features become the next requests to the model
(guidance by the exact FE gradient), and, optionally, the stretched webs themselves are
designs ("sized", a post-hoc step reported apart from the model's own designs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..mechanics.descriptors import mechanical_descriptors
from ..web import WebGraph

#: Largest |log stretch| per axis (a factor of e either way).
MAX_STRETCH = 1.0
#: Finite-difference step of the log stretch.
STEP = 0.05


def stretched(web: WebGraph, s: np.ndarray) -> WebGraph:
    """``web`` stretched by ``exp(s)`` along x, y, z about its centroid."""
    c = web.pos.mean(axis=0)
    return web.replace(pos=(web.pos - c) * np.exp(np.asarray(s, np.float64)) + c)


def fit_stretch(
    webs: Sequence[WebGraph],
    targets: np.ndarray,
    cols: Sequence[int],
    material: str,
    strut: float | None = None,
    iters: int = 4,
    axes: Sequence[int] = (0, 1, 2),
) -> tuple[np.ndarray, np.ndarray]:
    """Log stretches (B, 3) that bring descriptor columns ``cols`` of ``webs`` to
    ``targets`` (T,), and the descriptors (B, 4) of the stretched webs. Only ``axes`` are
    stretched (e.g. ``(0, 1, 2)``: free proportions; one target is met by a uniform
    stretch, see :func:`araneus.design.search`). A web whose descriptors are undefined
    keeps ``s = 0``."""
    webs = list(webs)
    b = len(webs)
    s = np.zeros((b, 3))
    logt = np.log(np.asarray(targets, np.float64))
    cur = mechanical_descriptors(webs, material, strut)
    axes = list(axes)
    for _ in range(iters):
        ok = np.isfinite(cur[:, cols]).all(1) & (cur[:, cols] > 0).all(1)
        if not ok.any():
            break
        base = np.log(np.where(ok[:, None], cur[:, cols], 1.0))
        jac = np.zeros((b, len(cols), len(axes)))
        for j, a in enumerate(axes):
            ds = s.copy()
            ds[:, a] += STEP
            d = mechanical_descriptors([stretched(w, x) for w, x in zip(webs, ds)], material,
                                       strut)[:, cols]  # fmt: skip
            with np.errstate(divide="ignore", invalid="ignore"):
                jac[:, :, j] = (np.log(d) - base) / STEP
        jac = np.where(np.isfinite(jac), jac, 0.0)
        r = logt[None, :] - base
        step = np.zeros((b, len(axes)))
        for i in np.flatnonzero(ok):
            a = jac[i]
            step[i] = np.linalg.solve(a.T @ a + 1e-3 * np.eye(len(axes)), a.T @ r[i])
        step = np.clip(step, -0.5, 0.5)
        trial = s.copy()
        trial[:, axes] = np.clip(s[:, axes] + step, -MAX_STRETCH, MAX_STRETCH)
        new = mechanical_descriptors([stretched(w, x) for w, x in zip(webs, trial)], material,
                                     strut)  # fmt: skip
        with np.errstate(divide="ignore", invalid="ignore"):
            before = np.abs(base - logt).max(1)
            after = np.abs(np.log(new[:, cols]) - logt).max(1)
        better = ok & np.isfinite(after) & (after < before)
        s[better] = trial[better]
        cur[better] = new[better]
    return s, cur
