"""Static figures of webs with matplotlib (imported lazily; Agg backend)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._util import atomic_output
from ..errors import InputError
from ..web import THREAD_TYPES, WebGraph
from .formatting import count_noun

_THREAD_COLORS = {
    "unknown": "#444444",
    "frame": "#1f77b4",
    "radial": "#d62728",
    "spiral": "#2ca02c",
    "hub": "#9467bd",
    "sheet": "#17becf",
    "scaffold": "#7f7f7f",
    "anchor": "#8c564b",
    "bridge": "#ff7f0e",
    "gumfoot": "#e377c2",
    "stitch": "#bcbd22",
}

#: Legend name of thread code 0 (``THREAD_TYPES[0]``): a thread whose type was not recorded.
UNTYPED_THREAD = "untyped thread"
#: The same for an assembled structure (``meta["source"] == "araneus.assemble"``): threads
#: of its pieces, e.g. generated ones (the generative models make no thread types).
UNTYPED_PIECE_THREAD = "piece thread (untyped)"


def thread_labels(web: WebGraph) -> dict[int, str]:
    """Legend names of the thread codes present in ``web``, in code order.

    Names come from :data:`~araneus.web.THREAD_TYPES`; code 0 (no type recorded) is named
    :data:`UNTYPED_THREAD` (:data:`UNTYPED_PIECE_THREAD` in an assembled structure) rather
    than "unknown", and a code outside the table ``"thread code N"``. Empty when the web has
    no ``edge_attrs["thread"]``.
    """
    if "thread" not in web.edge_attrs or web.n_edges == 0:
        return {}
    assembled = isinstance(web.meta, dict) and web.meta.get("source") == "araneus.assemble"
    untyped = UNTYPED_PIECE_THREAD if assembled else UNTYPED_THREAD
    out = {}
    for c in np.unique(np.asarray(web.edge_attrs["thread"]).astype(int)).tolist():
        in_table = 0 < c < len(THREAD_TYPES)
        out[c] = THREAD_TYPES[c] if in_table else untyped if c == 0 else f"thread code {c}"
    return out


def thread_color(code: int) -> str:
    """Colour of a thread code in every figure (grey for untyped or unknown codes)."""
    in_table = 0 <= code < len(THREAD_TYPES)
    return _THREAD_COLORS.get(THREAD_TYPES[code], "#444444") if in_table else "#444444"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Line widths (points) chosen by :func:`auto_linewidth` stay within this range.
LINEWIDTH_RANGE: tuple[float, float] = (0.1, 1.5)


def auto_linewidth(web: WebGraph, edges: np.ndarray | None = None) -> float:
    """Line width (points) for a 3-D view of ``web`` that keeps dense webs legible.

    The width falls with the amount of thread in the view: ``4 / sqrt(T / D)`` with ``T``
    the total length of the drawn edges and ``D`` the largest side of the bounding box
    (so ``T / D`` counts how many box widths of thread there are), clipped to
    :data:`LINEWIDTH_RANGE`. A 64-node sample gets ~1.5 pt, the default orb web ~0.65 pt,
    the 16.5k-node default tent web ~0.2 pt.

    Parameters
    ----------
    web
        The web to draw.
    edges
        (E', 2) the edges actually drawn (default: all of ``web.edges``).
    """
    e = web.edges if edges is None else edges
    lo, hi = LINEWIDTH_RANGE
    if len(e) == 0:
        return hi
    p = web.pos
    total = float(np.linalg.norm(p[e[:, 1]] - p[e[:, 0]], axis=1).sum())
    b_lo, b_hi = web.bbox()
    extent = float((b_hi - b_lo).max())
    if total <= 0 or extent <= 0:
        return hi
    return float(np.clip(4.0 / np.sqrt(total / extent), lo, hi))


def _check_linewidth(linewidth: float) -> float:
    if isinstance(linewidth, bool) or not np.isfinite(linewidth) or linewidth <= 0:
        raise InputError(f"linewidth must be a finite number of points > 0, got {linewidth!r}")
    return float(linewidth)


def draw_web(
    ax: Any,
    web: WebGraph,
    values: np.ndarray | None = None,
    cmap: str = "viridis",
    linewidth: float | None = None,
    max_edges: int = 200_000,
    vrange: tuple[float, float] | None = None,
) -> None:
    """Draw ``web`` on a 3-D matplotlib axis, coloured by thread type or per-edge ``values``.

    Parameters
    ----------
    ax
        A matplotlib 3-D axis (``projection="3d"``).
    web
        The web; the axis limits become its bounding box, with equal aspect.
    values
        Optional (E,) per-edge values coloured with ``cmap`` instead of thread types.
    cmap
        Matplotlib colour map name for ``values``.
    linewidth
        Line width in points (> 0); None chooses :func:`auto_linewidth`.
    max_edges
        Webs with more edges draw an evenly spaced, deterministic subset of this many.
    vrange
        (low, high) of the colour scale for ``values`` (values outside are clipped, NaN
        drawn as ``low``); default the range of ``values``.
    """
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    e = web.edges
    if len(e) > max_edges:  # keep huge webs drawable: a deterministic subset of edges
        sel = np.linspace(0, len(e) - 1, max_edges).astype(np.int64)
        e = e[sel]
        values = None if values is None else np.asarray(values)[sel]
    else:
        sel = None
    segs = web.pos[e]
    lw = auto_linewidth(web, e) if linewidth is None else _check_linewidth(linewidth)
    if values is not None:
        import matplotlib as mpl

        v = np.asarray(values, dtype=float)
        lo, hi = (np.nanmin(v), np.nanmax(v)) if vrange is None else vrange
        norm = mpl.colors.Normalize(lo, hi + 1e-30 * max(abs(hi), 1.0), clip=True)
        colors = mpl.colormaps[cmap](norm(np.nan_to_num(v, nan=lo)))
    elif "thread" in web.edge_attrs:
        codes = web.edge_attrs["thread"]
        codes = codes if sel is None else codes[sel]
        colors = np.array([thread_color(c) for c in range(len(THREAD_TYPES) + 1)])
        c = codes.astype(int)
        colors = colors[np.where((c >= 0) & (c < len(THREAD_TYPES)), c, len(THREAD_TYPES))]
    else:
        colors = "#333333"
    if len(segs):
        ax.add_collection3d(Line3DCollection(segs, colors=colors, linewidths=lw))
    elif web.n_nodes:  # no threads at all: show the nodes
        ax.scatter(*web.pos.T, s=4, color="#333333", depthshade=False)
    if web.n_nodes:
        lo, hi = web.bbox()
        mid, half = (lo + hi) / 2, max((hi - lo).max() / 2, 1e-9)
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[1] - half, mid[1] + half)
        ax.set_zlim(mid[2] - half, mid[2] + half)
        ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")


def figure_format(path: str | os.PathLike) -> str:
    """Image format named by ``path``'s suffix (``"png"`` if none); unknown ones: InputError.

    Call it before long work whose result is to be plotted, to fail early on a typo.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    known = ("png", "svg", "pdf", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")
    if suffix not in known:
        raise InputError(
            f"{os.fspath(path)}: cannot save a figure as '.{suffix}'; use one of "
            + ", ".join("." + k for k in known)
        )
    return suffix


def plot_web(
    web: WebGraph,
    path: str | os.PathLike,
    title: str | None = None,
    values: np.ndarray | None = None,
    elev: float = 25,
    azim: float = -60,
    dpi: int = 150,
    linewidth: float | None = None,
    vrange: tuple[float, float] | None = None,
    value_label: str | None = None,
) -> None:
    """Save a 3-D view of ``web`` to ``path`` (PNG/SVG/PDF by suffix), written atomically.

    Parameters
    ----------
    web
        The web to draw.
    path
        Output file; the suffix picks the format (``.png`` if none).
    title
        Figure title (default: node and edge counts).
    values
        Optional (E,) per-edge values to colour by (e.g. stress); otherwise edges are
        coloured by ``edge_attrs["thread"]`` when present, with a legend of the types used.
    elev, azim
        View angles in degrees.
    dpi
        Resolution of raster output.
    linewidth
        Line width in points (> 0); None chooses :func:`auto_linewidth` (thin for big webs).
    vrange, value_label
        Colour-scale range for ``values`` (clipped outside) and the colour bar's label;
        with ``values`` a colour bar is drawn.
    """
    if values is not None and len(values) != web.n_edges:
        raise InputError(f"values must have one entry per edge ({web.n_edges}), got {len(values)}")
    if linewidth is not None:
        _check_linewidth(linewidth)
    suffix = figure_format(path)
    plt = _pyplot()
    fig = plt.figure(figsize=(7, 6))
    try:
        ax = fig.add_subplot(projection="3d")
        draw_web(ax, web, values, linewidth=linewidth, vrange=vrange)
        ax.view_init(elev=elev, azim=azim)
        if values is not None and web.n_edges:
            import matplotlib as mpl

            v = np.asarray(values, float)
            lo, hi = (np.nanmin(v), np.nanmax(v)) if vrange is None else vrange
            mappable = mpl.cm.ScalarMappable(mpl.colors.Normalize(lo, hi), "viridis")
            fig.colorbar(mappable, ax=ax, shrink=0.6, label=value_label or "")
        if values is None and "thread" in web.edge_attrs and web.n_edges:
            from matplotlib.lines import Line2D

            handles = [
                Line2D([], [], color=thread_color(c), label=name)
                for c, name in thread_labels(web).items()
            ]
            ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
        default = f"{count_noun(web.n_nodes, 'node')}, {count_noun(web.n_edges, 'edge')}"
        ax.set_title(title or default, fontsize=10)
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=suffix)
    finally:
        plt.close(fig)
