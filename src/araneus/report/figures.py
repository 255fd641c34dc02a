"""PNG figures of a web's structural statistics (matplotlib, imported lazily).

:func:`write_analysis_figures` draws the degree, edge-length and orientation histograms
from :func:`araneus.features.web_statistics` and a 3-D view (:func:`araneus.report.plot.plot_web`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_output
from ..errors import InputError
from ..features import web_statistics
from ..web import WebGraph
from .formatting import count_noun, fmt, with_unit
from .plot import _pyplot, plot_web

#: File names written by :func:`write_analysis_figures`, keyed by figure.
FIGURE_FILES: dict[str, str] = {
    "degree": "degree_histogram.png",
    "edge_length": "edge_length_histogram.png",
    "orientation": "orientation_histogram.png",
    "web": "web_3d.png",
}


def _save(fig: Any, path: Path, dpi: int) -> None:
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")


def _bar_figure(
    path: Path,
    left: np.ndarray,
    counts: np.ndarray,
    width: np.ndarray | float,
    xlabel: str,
    title: str,
    dpi: int,
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    try:
        ax.bar(left, counts, width=width, align="edge", color="#4c72b0", edgecolor="white")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
        ax.set_title(title, fontsize=10)
        _save(fig, path, dpi)
    finally:
        plt.close(fig)


def write_analysis_figures(
    web: WebGraph,
    out_dir: str | os.PathLike,
    stats: dict[str, Any] | None = None,
    title: str | None = None,
    dpi: int = 120,
) -> dict[str, Path]:
    """Write the analysis PNGs of ``web`` into ``out_dir`` (created if needed).

    Parameters
    ----------
    web
        The analysed web.
    out_dir
        Output directory; file names are :data:`FIGURE_FILES`.
    stats
        Output of :func:`~araneus.features.web_statistics` for ``web`` (computed if None).
    title
        Prefix of the figure titles (e.g. the input file name).
    dpi
        Resolution of the PNGs.

    Returns
    -------
    dict mapping figure key to the written path.
    """
    if not isinstance(web, WebGraph):
        raise InputError(f"write_analysis_figures expects a WebGraph, got {type(web).__name__}")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 20 <= dpi <= 1200:
        raise InputError(f"dpi must be an integer in [20, 1200], got {dpi!r}")
    s = web_statistics(web) if stats is None else stats
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output directory {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    pre = f"{title}: " if title else ""
    unit = web.meta.get("units") if isinstance(web.meta, dict) else None
    unit = str(unit) if isinstance(unit, str) and unit.strip() else "length units"
    paths = {k: out / v for k, v in FIGURE_FILES.items()}
    deg = np.asarray(s["degree"]["histogram"])
    _bar_figure(
        paths["degree"],
        np.arange(len(deg)) - 0.4,
        deg,
        0.8,
        "degree",
        f"{pre}degree (mean {fmt(s['degree']['mean'])})",
        dpi,
    )
    for key, xlabel, label in (
        ("edge_length", with_unit("edge length", unit), "edge length"),
        ("orientation", with_unit("angle to vertical", "degrees"), "orientation"),
    ):
        h = s[key]["histogram"]
        edges = np.asarray(h["bin_edges"])
        _bar_figure(
            paths[key],
            edges[:-1],
            np.asarray(h["counts"]),
            np.diff(edges),
            xlabel,
            f"{pre}{label} (median {fmt(s[key]['median'])})",
            dpi,
        )
    sizes = f"{count_noun(web.n_nodes, 'node')}, {count_noun(web.n_edges, 'edge')}"
    plot_web(web, paths["web"], title=f"{pre}{sizes}", dpi=dpi)
    return paths


__all__ = ["FIGURE_FILES", "write_analysis_figures"]
