"""Evaluation metrics for generated webs.

- :func:`fidelity`: requested vs re-measured conditioning features (per-feature R^2, MAE,
  relative error; the reference's pooled R^2).
- :func:`distribution_mmd`: MMD^2 between two sets of webs over degree, clustering,
  graphlet-orbit, edge-length and orientation statistics.
- :func:`vun`: validity, uniqueness, novelty and V.U.N.
- :func:`evaluate`: all of it at once, :func:`format_report` as a text table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..features import FEATURE_NAMES, features_table
from ..web import WebGraph
from .fidelity import fidelity
from .mmd import KERNELS, mmd2
from .stats import (
    N_ORBITS,
    clustering,
    degrees,
    orbit_counts,
    per_web_hist,
    per_web_mean,
    stack_webs,
)
from .vun import validity, vun, web_hash

STATISTICS = ("degree", "clustering", "orbit", "edge_length", "orientation")
#: Default kernel bandwidths (GraphRNN's for degree, clustering and orbits).
SIGMAS = {"degree": 1.0, "clustering": 0.1, "orbit": 30.0, "edge_length": 0.1,
          "orientation": 0.1}  # fmt: skip


def _descriptors(webs: Sequence[WebGraph], max_deg: int, max_len: float):
    st = stack_webs(webs)
    a = st.csr()
    w, owner = st.n_webs, st.web_of_node
    d = degrees(st)
    out = {
        "degree": per_web_hist(d, owner, w, np.arange(max_deg + 2) - 0.5),
        "clustering": per_web_hist(clustering(st, a), owner, w, np.linspace(0, 1 + 1e-9, 101)),
        "orbit": per_web_mean(orbit_counts(st, a).astype(np.float64), st),
    }
    vec = st.pos[st.edges[:, 1]] - st.pos[st.edges[:, 0]]
    length = np.linalg.norm(vec, axis=1)
    e_owner = owner[st.edges[:, 0]]
    out["edge_length"] = per_web_hist(length / max_len, e_owner, w, np.linspace(0, 1 + 1e-9, 51))
    cosz = np.abs(vec[:, 2]) / np.maximum(length, 1e-300)
    out["orientation"] = per_web_hist(cosz, e_owner, w, np.linspace(0, 1 + 1e-9, 21))
    return out


def distribution_mmd(
    generated: Sequence[WebGraph],
    reference: Sequence[WebGraph],
    kernel: str = "emd",
    statistics: Sequence[str] = STATISTICS,
    sigmas: dict[str, float] | None = None,
) -> dict[str, float]:
    """MMD^2 between two sets of webs for each statistic.

    Parameters
    ----------
    generated, reference
        Non-empty lists of webs.
    kernel
        ``"emd"`` (GraphRNN) or ``"tv"`` (GRAN) Gaussian kernel for the histogram
        statistics (degree, clustering with 100 bins on [0, 1], edge length with 50 bins
        on [0, longest edge of both sets], orientation = |cos| of the angle to the vertical
        with 20 bins). Orbits always use a Gaussian kernel on the Euclidean distance
        between per-web mean orbit-count vectors (15 orbits), as GraphRNN does.
    statistics
        Subset of :data:`STATISTICS`.
    sigmas
        Bandwidths overriding :data:`SIGMAS` (in bin-coordinate units: degree in edges,
        the others on [0, 1]).
    """
    if kernel not in ("emd", "tv"):
        raise InputError(f"kernel must be 'emd' or 'tv', got {kernel!r}")
    bad = [s for s in statistics if s not in STATISTICS]
    if bad:
        raise InputError(f"unknown statistic(s) {bad}; valid: {', '.join(STATISTICS)}")
    if not len(generated) or not len(reference):
        raise InputError("distribution_mmd needs at least one web in each set")
    sig = {**SIGMAS, **(sigmas or {})}
    all_webs = list(generated) + list(reference)
    max_deg = max(int(w.degrees.max()) if w.n_nodes else 0 for w in all_webs)
    max_len = max(float(w.edge_lengths.max()) if w.n_edges else 0.0 for w in all_webs) or 1.0
    dg = _descriptors(generated, max_deg, max_len)
    dr = _descriptors(reference, max_deg, max_len)
    width = {"degree": 1.0, "clustering": 0.01, "edge_length": 0.02, "orientation": 0.05}
    out = {}
    for s in statistics:
        kind = "l2" if s == "orbit" else kernel
        out[s] = mmd2(dg[s], dr[s], kind, sig[s], width.get(s, 1.0))
    return out


def _requested(webs: Sequence[WebGraph]) -> np.ndarray | None:
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


def evaluate(
    generated: Sequence[WebGraph],
    reference: Sequence[WebGraph],
    train: Sequence[WebGraph] | None = None,
    requested: np.ndarray | None = None,
    K: int = 5,  # noqa: N803
    kernel: str = "emd",
    decimals: int = 2,
) -> dict:
    """All metrics of ``generated`` against ``reference`` webs.

    Parameters
    ----------
    generated
        Generated webs.
    reference
        Held-out real/reference webs for the distribution distances.
    train
        Training webs for novelty (default: ``reference``).
    requested
        (S, 7) requested conditioning features (NaN = free); default from the webs'
        ``meta["requested"]`` if present. Fidelity is skipped without it.
    K
        Degree cap of the validity check.

    Returns
    -------
    JSON-serialisable dict: ``n_generated``, ``n_reference``, ``mmd`` (per statistic),
    ``vun``, ``fidelity`` (or None) and per-feature means of both sets.
    """
    generated, reference = list(generated), list(reference)
    if not generated or not reference:
        raise InputError("evaluate needs at least one generated and one reference web")
    if requested is None:
        requested = _requested(generated)
    fg, fr = features_table(generated), features_table(reference)
    fid = None
    if requested is not None:
        fid = fidelity(requested, fg, FEATURE_NAMES)
    return {
        "n_generated": len(generated),
        "n_reference": len(reference),
        "kernel": kernel,
        "mmd": distribution_mmd(generated, reference, kernel),
        "vun": vun(generated, reference if train is None else train, K, decimals),
        "fidelity": fid,
        "feature_means": {
            "generated": dict(zip(FEATURE_NAMES, fg.mean(axis=0).tolist())),
            "reference": dict(zip(FEATURE_NAMES, fr.mean(axis=0).tolist())),
        },
    }


def format_report(rep: dict) -> str:
    """A plain-text table of an :func:`evaluate` report."""
    lines = [f"generated: {rep['n_generated']} webs, reference: {rep['n_reference']} webs"]
    lines.append(f"MMD^2 ({rep['kernel']} kernel; orbits: l2)")
    for k, v in rep["mmd"].items():
        lines.append(f"  {k:<14}{v:12.6f}")
    v = rep["vun"]
    fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
    lines.append(f"valid {fmt(v['valid'])}  unique {fmt(v['unique'])}  "
                 f"novel {fmt(v['novel'])}  V.U.N. {fmt(v['vun'])}")  # fmt: skip
    if any(v["failures"].values()):
        lines.append("  failed checks: " + ", ".join(f"{k}={n}" for k, n in v["failures"].items()))
    lines.append(f"{'feature':<18}{'generated':>12}{'reference':>12}")
    for name in FEATURE_NAMES:
        g, r = rep["feature_means"]["generated"][name], rep["feature_means"]["reference"][name]
        lines.append(f"  {name:<16}{g:12.4g}{r:12.4g}")
    if rep.get("fidelity"):
        f = rep["fidelity"]
        lines.append(f"fidelity: pooled R^2 {f['pooled_r2']:.4f}")
        for name, d in f["per_feature"].items():
            lines.append(f"  {name:<16} R^2 {d['r2']:8.4f}  MAE {d['mae']:10.4g}  "
                         f"rel {d['rel_err']:8.4f}")  # fmt: skip
    return "\n".join(lines)


__all__ = [
    "evaluate",
    "format_report",
    "distribution_mmd",
    "fidelity",
    "mmd2",
    "vun",
    "validity",
    "web_hash",
    "orbit_counts",
    "stack_webs",
    "STATISTICS",
    "SIGMAS",
    "KERNELS",
    "N_ORBITS",
]
