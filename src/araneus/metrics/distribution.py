"""MMD^2 between two sets of webs over per-web structural and geometric statistics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..web import WebGraph
from .mmd import mmd2
from .stats import clustering, degrees, orbit_counts, per_web_hist, per_web_mean, stack_webs

#: Statistics of :func:`distribution_mmd`; ``rel_edge_length`` is the headline length one.
STATISTICS = ("degree", "clustering", "orbit", "rel_edge_length", "edge_length", "orientation")
#: Default kernel bandwidths (GraphRNN's for degree, clustering and orbits).
SIGMAS = {"degree": 1.0, "clustering": 0.1, "orbit": 30.0, "rel_edge_length": 0.1,
          "edge_length": 0.1, "orientation": 0.1}  # fmt: skip
#: Range of log10(edge length / the web's mean edge length) of the ``rel_edge_length``
#: histogram (0.01x to 100x the mean; outside values count in the end bins).
REL_LOG_RANGE = (-2.0, 2.0)


def _descriptors(webs: Sequence[WebGraph], max_deg: int, max_len: float, wanted) -> dict:
    """Per-web descriptors of the ``wanted`` statistics."""
    st = stack_webs(webs)
    a = st.csr()
    w, owner = st.n_webs, st.web_of_node
    out = {}
    if "degree" in wanted:
        out["degree"] = per_web_hist(degrees(st), owner, w, np.arange(max_deg + 2) - 0.5)
    if "clustering" in wanted:
        out["clustering"] = per_web_hist(clustering(st, a), owner, w, np.linspace(0, 1 + 1e-9, 101))
    if "orbit" in wanted:
        out["orbit"] = per_web_mean(orbit_counts(st, a).astype(np.float64), st)
    vec = st.pos[st.edges[:, 1]] - st.pos[st.edges[:, 0]]
    length = np.linalg.norm(vec, axis=1)
    e_owner = owner[st.edges[:, 0]]
    bins = np.linspace(0, 1 + 1e-9, 51)
    if "edge_length" in wanted:
        out["edge_length"] = per_web_hist(length / max_len, e_owner, w, bins)
    if "rel_edge_length" in wanted:
        n_e = np.bincount(e_owner, minlength=w)
        mean = np.bincount(e_owner, weights=length, minlength=w) / np.maximum(n_e, 1)
        rel = np.log10(np.maximum(length / np.maximum(mean[e_owner], 1e-300), 1e-300))
        lo, hi = REL_LOG_RANGE
        out["rel_edge_length"] = per_web_hist((rel - lo) / (hi - lo), e_owner, w, bins)
    if "orientation" in wanted:
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
        statistics (degree, clustering with 100 bins on [0, 1], ``rel_edge_length`` =
        log10 of each edge's length over its web's mean edge length with 50 bins on
        [-2, 2] mapped to [0, 1] (every web's length distribution compared at its own
        scale: the headline length statistic), ``edge_length`` = absolute lengths with 50
        bins on [0, longest edge of both sets] (dominated by the largest webs when sizes
        differ), orientation = |cos| of the angle to the vertical with 20 bins). Orbits always use a Gaussian kernel on the Euclidean distance
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
    dg = _descriptors(generated, max_deg, max_len, set(statistics))
    dr = _descriptors(reference, max_deg, max_len, set(statistics))
    width = {"degree": 1.0, "clustering": 0.01, "edge_length": 0.02, "rel_edge_length": 0.02,
             "orientation": 0.05}  # fmt: skip
    out = {}
    for s in statistics:
        kind = "l2" if s == "orbit" else kernel
        out[s] = mmd2(dg[s], dr[s], kind, sig[s], width.get(s, 1.0))
    return out
