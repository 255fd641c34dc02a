"""Statistics of built webs against real webs: the builders' calibration targets.

The reference figures come from real webs measured in issue 19 (they cannot ship: no
licence): two public laser-scanned skeletons of *Cyrtophora citricola* tent webs (10,106
and 5,214 nodes, fragmented) and a public hand-traced *Araneus* orb web (633 nodes). The
*targets* are the ranges a builder must meet (tests check them); the other reference
figures are reported beside the builders' values in docs/builders.md.

* The tent targets apply to the scan-like form (``resolution="auto"``), the form the scans
  have; the orb targets to the junction-only form, the form a hand tracing has.
* "vertical" means within 30 degrees of the z axis (:func:`araneus.features.
  edge_angles_to_vertical`), counted over edges (scan segments).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..features import edge_angles_to_vertical
from ..web import WebGraph, thread_code

#: Figures of the real webs (ranges over the two scans; single values for the traced orb).
REAL_WEBS: dict[str, dict[str, Any]] = {
    "tent scans": {
        "what": "two laser-scan skeletons of Cyrtophora citricola tent webs (10,106 and "
        "5,214 nodes; fragmented, so degree-1 ends are breaks)",
        "degree_1": (0.08, 0.16),
        "degree_2": (0.57, 0.66),
        "degree_3": (0.18, 0.19),
        "degree_4": (0.06, 0.07),
        "degree_5+": (0.02, 0.02),
        "length_p5": (0.30, 0.43),
        "length_p50": (0.88, 0.94),
        "length_p95": (2.1, 2.2),
        "length_cv": (0.49, 0.49),
        "vertical_share": (0.125, 0.177),
    },
    "traced orb": {
        "what": "a hand-traced Araneus orb web (633 nodes)",
        "degree_1": (0.025, 0.025),
        "degree_3": (0.109, 0.109),
        "degree_4": (0.777, 0.777),
        "degree_5+": (0.087, 0.087),
        "length_p5": (0.39, 0.39),
        "length_p50": (0.78, 0.78),
        "length_p95": (2.11, 2.11),
        "length_cv": (0.62, 0.62),
        "radials": (34, 34),
        "rings_per_radial": (17, 17),
    },
}

#: Calibration targets: family -> (form, {statistic: (low, high)}), checked by the tests.
TARGETS: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "tent": (
        "scan-like",
        {"degree_2": (0.5, 1.0), "length_cv": (0.0, 0.8), "vertical_share": (0.10, 0.20)},
    ),
    "orb": (
        "junctions",
        {"degree_5+": (0.05, 0.10), "length_cv": (0.5, 0.75), "radials": (30, 40)},
    ),
}


def shape_statistics(web: WebGraph) -> dict[str, float]:
    """The calibration statistics of a web.

    Returns
    -------
    dict
        ``degree_1`` ... ``degree_4``, ``degree_5+`` (share of nodes); ``length_p5``,
        ``length_p50``, ``length_p95`` (edge length over the mean edge length at those
        percentiles); ``length_cv`` (std / mean of edge lengths); ``vertical_share``
        (share of edges within 30 degrees of z); ``nodes``; and, for orb webs (radial and
        frame threads), ``radials`` (nodes where a radial thread meets a frame or bridge thread,
        one per radius) and ``rings_per_radial`` (radial-spiral crossings per radius).
    """
    if not isinstance(web, WebGraph) or web.n_edges == 0:
        raise InputError("shape_statistics needs a WebGraph with at least one edge")
    deg = web.degrees
    length = web.edge_lengths
    rel = length / length.mean()
    p5, p50, p95 = np.percentile(rel, [5, 50, 95])
    out = {f"degree_{k}": float(np.mean(deg == k)) for k in (1, 2, 3, 4)}
    out.update({
        "degree_5+": float(np.mean(deg >= 5)),
        "length_p5": float(p5), "length_p50": float(p50), "length_p95": float(p95),
        "length_cv": float(length.std() / length.mean()),
        "vertical_share": float(np.mean(edge_angles_to_vertical(web) < 30.0)),
        "nodes": float(web.n_nodes),
    })  # fmt: skip
    codes = web.edge_attrs.get("thread")
    framed = codes is not None and np.isin(codes, [thread_code("frame"), thread_code("bridge")]).any()
    if framed and np.any(codes == thread_code("radial")):
        on = {}
        for name in ("radial", "frame", "bridge", "spiral"):
            mask = np.zeros(web.n_nodes, bool)
            mask[web.edges[codes == thread_code(name)].ravel()] = True
            on[name] = mask
        radials = int(np.count_nonzero(on["radial"] & (on["frame"] | on["bridge"])))
        out["radials"] = float(radials)
        crossings = np.count_nonzero(on["radial"] & on["spiral"])
        out["rings_per_radial"] = float(crossings / radials) if radials else 0.0
    return out


def check_targets(family: str, web: WebGraph) -> dict[str, tuple[float, float, float, bool]]:
    """Each target statistic of ``family``: (value, low, high, met) for ``web``.

    ``web`` must be in the target's form (scan-like for the tent, junctions for the orb).
    """
    if family not in TARGETS:
        raise InputError(f"no calibration targets for {family!r}; valid: {', '.join(TARGETS)}")
    stats = shape_statistics(web)
    out = {}
    for name, (lo, hi) in TARGETS[family][1].items():
        value = stats.get(name, float("nan"))
        out[name] = (value, lo, hi, bool(lo <= value <= hi))
    return out


__all__ = ["REAL_WEBS", "TARGETS", "check_targets", "shape_statistics"]
