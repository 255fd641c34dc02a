"""Figures of the demo's generation stage: feature histograms and requested vs achieved
(PNG with matplotlib, interactive with plotly), labelled with units."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..features import FEATURE_NAMES
from .formatting import with_unit

#: Feature names as the report shows them, with units (the demo's webs are in mm).
FEATURE_LABELS: dict[str, str] = {
    "mean_edge_length": with_unit("mean edge length", "mm"),
    "mean_abs_dx": with_unit("mean |dx|", "mm"),
    "mean_abs_dy": with_unit("mean |dy|", "mm"),
    "mean_abs_dz": with_unit("mean |dz|", "mm"),
    "num_nodes": "nodes",
    "num_edges": "edges",
    "mean_degree": "mean degree",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_png(fig, path: Path) -> None:
    from .._util import atomic_output

    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")


def feature_histograms_png(dataset, runs: dict, path: Path) -> None:
    """Per-feature histograms: dataset (all splits) vs each model's generated webs."""
    plt = _pyplot()
    cols = [list(dataset.feature_names).index(f) for f in FEATURE_NAMES]
    data = dataset.features[:, cols]
    fig, axes = plt.subplots(2, 4, figsize=(13, 6))
    try:
        for j, (ax, name) in enumerate(zip(axes.ravel(), FEATURE_NAMES)):
            allv = np.concatenate([data[:, j]] + [r.achieved[:, j] for r in runs.values()])
            bins = np.histogram_bin_edges(allv[np.isfinite(allv)], bins=20)
            ax.hist(data[:, j], bins=bins, density=True, alpha=0.5, label="dataset", color="0.5")
            for r in runs.values():
                ax.hist(r.achieved[:, j], bins=bins, density=True, histtype="step", lw=1.5,
                        label=r.name)  # fmt: skip
            ax.set_title(FEATURE_LABELS[name], fontsize=9)
        axes.ravel()[-1].axis("off")
        axes.ravel()[0].legend(fontsize=7, frameon=False)
        fig.tight_layout()
        _save_png(fig, path)
    finally:
        plt.close(fig)


def requested_achieved_png(runs: dict, path: Path) -> None:
    """Scatter of requested vs achieved features, one panel per feature."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 4, figsize=(13, 6))
    try:
        for j, (ax, name) in enumerate(zip(axes.ravel(), FEATURE_NAMES)):
            lo, hi = np.inf, -np.inf
            for r in runs.values():
                ax.plot(r.requested[:, j], r.achieved[:, j], "o", ms=4, alpha=0.7, label=r.name)
                both = np.concatenate([r.requested[:, j], r.achieved[:, j]])
                lo, hi = min(lo, np.nanmin(both)), max(hi, np.nanmax(both))
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set_title(FEATURE_LABELS[name], fontsize=9)
            ax.set_xlabel("requested", fontsize=8)
            ax.set_ylabel("achieved", fontsize=8)
        axes.ravel()[-1].axis("off")
        axes.ravel()[0].legend(fontsize=7, frameon=False)
        fig.tight_layout()
        _save_png(fig, path)
    finally:
        plt.close(fig)


def scatter_figure(runs: dict):
    """Plotly: requested vs achieved per feature (one panel each), coloured by model."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=4, subplot_titles=[FEATURE_LABELS[f] for f in FEATURE_NAMES])
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
    for j in range(len(FEATURE_NAMES)):
        row, col = j // 4 + 1, j % 4 + 1
        lo, hi = np.inf, -np.inf
        for m, r in enumerate(runs.values()):
            fig.add_trace(
                go.Scatter(
                    x=r.requested[:, j],
                    y=r.achieved[:, j],
                    mode="markers",
                    name=r.name,
                    legendgroup=r.name,
                    showlegend=j == 0,
                    marker={"color": palette[m % len(palette)], "size": 6, "opacity": 0.75},
                ),
                row=row,
                col=col,
            )
            both = np.concatenate([r.requested[:, j], r.achieved[:, j]])
            lo, hi = min(lo, float(np.nanmin(both))), max(hi, float(np.nanmax(both)))
        fig.add_trace(
            go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", showlegend=False,
                       line={"color": "black", "dash": "dash", "width": 1}),
            row=row, col=col,
        )  # fmt: skip
    fig.update_layout(
        title={"text": "Requested vs achieved features (dashed: y = x)"},
        height=580,
        margin={"t": 80, "l": 40, "r": 10, "b": 30},
    )
    return fig


def histogram_figure(dataset, runs: dict):
    """Plotly: feature histograms (density, step lines on shared bins) of the dataset and
    of each model's generated webs.

    Step lines rather than bars: every group stays visible where they overlap, and the
    page's render check (which looks for plotly's scatter layer) covers the figure.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    cols = [list(dataset.feature_names).index(f) for f in FEATURE_NAMES]
    data = dataset.features[:, cols]
    fig = make_subplots(rows=2, cols=4, subplot_titles=[FEATURE_LABELS[f] for f in FEATURE_NAMES])
    groups = [("dataset", data)] + [(r.name, r.achieved) for r in runs.values()]
    colors = ["#888888", "#1f77b4", "#ff7f0e", "#2ca02c"]
    for j in range(len(FEATURE_NAMES)):
        allv = np.concatenate([arr[:, j] for _, arr in groups])
        bins = np.histogram_bin_edges(allv[np.isfinite(allv)], bins=20)
        for g, (label, arr) in enumerate(groups):
            dens, _ = np.histogram(arr[:, j], bins=bins, density=True)
            fig.add_trace(
                go.Scatter(x=bins, y=np.append(dens, dens[-1]), mode="lines", name=label,
                           legendgroup=label, showlegend=j == 0, line_shape="hv",
                           line={"color": colors[g % 4], "width": 3 if g == 0 else 1.5}),
                row=j // 4 + 1, col=j % 4 + 1,
            )  # fmt: skip
    fig.update_layout(
        title={"text": "Feature histograms (density): dataset vs generated"},
        height=580,
        margin={"t": 80, "l": 40, "r": 10, "b": 30},
    )
    return fig


__all__ = [
    "FEATURE_LABELS",
    "feature_histograms_png",
    "histogram_figure",
    "requested_achieved_png",
    "scatter_figure",
]
