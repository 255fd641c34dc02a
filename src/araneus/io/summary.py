"""A quick numeric summary of a web, as printed by ``araneus info``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..web import WebGraph
from ._common import ReadReport


def web_summary(web: WebGraph, report: ReadReport | None = None) -> dict[str, Any]:
    """Sizes, components, degrees, bounding box and edge-length statistics of ``web``.

    Parameters
    ----------
    web
        The web to summarise.
    report
        If given (from :func:`araneus.io.read_web_report`), its counts are included under
        ``"read"``.

    Returns
    -------
    dict
        JSON-serialisable: ``nodes``, ``edges``, ``components``, ``largest_component``,
        ``isolated_nodes``, ``degree`` (min/mean/max and ``histogram`` as {degree: count}),
        ``bbox`` (``lo``/``hi``/``size``, each 3 floats, None for an empty web),
        ``edge_length`` (min/median/mean/max, None without edges), node/edge attribute names
        and ``read``.
    """
    n, m = web.n_nodes, web.n_edges
    deg = web.degrees
    out: dict[str, Any] = {
        "nodes": n,
        "edges": m,
        "components": web.n_components,
        "largest_component": int(web.component_sizes().max()) if n else 0,
        "isolated_nodes": int(np.count_nonzero(deg == 0)),
        "degree": None,
        "bbox": None,
        "edge_length": None,
        "node_attrs": sorted(web.node_attrs),
        "edge_attrs": sorted(web.edge_attrs),
    }
    if n:
        vals, cnt = np.unique(deg, return_counts=True)
        out["degree"] = {
            "min": int(deg.min()),
            "mean": float(deg.mean()),
            "max": int(deg.max()),
            "histogram": {int(v): int(c) for v, c in zip(vals, cnt)},
        }
        lo, hi = web.bbox()
        out["bbox"] = {"lo": lo.tolist(), "hi": hi.tolist(), "size": (hi - lo).tolist()}
    if m:
        length = web.edge_lengths
        out["edge_length"] = {
            "min": float(length.min()),
            "median": float(np.median(length)),
            "mean": float(length.mean()),
            "max": float(length.max()),
        }
    if report is not None:
        out["read"] = report.as_dict()
    return out
