"""Regenerate the builder figures in docs/ and print the calibration statistics.

Usage: python docs/make_builder_figures.py [OUTDIR]

Writes the orb, tent and tangle 3-D views (junction form), a close-up of the scan-like form
(``builders_scan_like.png``), and prints each target statistic of
:mod:`araneus.builders.calibration` for seeds 0-4. Uses :func:`araneus.report.plot.draw_web` with
hand-tuned line widths per family (close to what :func:`araneus.report.plot.auto_linewidth` picks)
and per-family view angles.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from araneus._util import atomic_output
from araneus.builders import TARGETS, OrbConfig, TentConfig, build, check_targets
from araneus.report.plot import _THREAD_COLORS, _pyplot, draw_web
from araneus.web import THREAD_TYPES

VIEWS = {  # family: (elev, azim, line width, title)
    "orb": (12, -70, 0.6, "orb web (Araneus-like), seed 0"),
    "tent": (28, -60, 0.15, "tent web (Cyrtophora-like), seed 0: domed sheet in a barrier of steep threads"),
    "tangle": (14, -60, 0.45, "cobweb (Theridiidae-like), seed 0: scaffold and gumfoot lines"),
}


def figure(family: str, path: Path) -> None:
    elev, azim, lw, title = VIEWS[family]
    web = build(family, seed=0)
    plt = _pyplot()
    from matplotlib.lines import Line2D

    fig = plt.figure(figsize=(7, 6.5))
    try:
        ax = fig.add_subplot(projection="3d")
        draw_web(ax, web, linewidth=lw)
        ax.view_init(elev=elev, azim=azim)
        used = np.unique(web.edge_attrs["thread"].astype(int))
        handles = [
            Line2D([], [], color=_THREAD_COLORS[THREAD_TYPES[c]], label=THREAD_TYPES[c])
            for c in used
        ]
        ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
        ax.set_title(f"{title}\n{web.n_nodes} nodes, {web.n_edges} edges, mm", fontsize=9)
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)


def _patch(ax, web, lo, hi, axes, title: str) -> None:
    """2-D view (coordinates ``axes``) of the part of ``web`` inside the box [lo, hi]."""
    inside = np.all((web.pos >= lo) & (web.pos <= hi), axis=1)
    e = web.edges[inside[web.edges].all(axis=1)]
    codes = web.edge_attrs["thread"][inside[web.edges].all(axis=1)]
    for c in np.unique(codes):
        seg = web.pos[e[codes == c]][:, :, axes]
        color = _THREAD_COLORS[THREAD_TYPES[c]]
        for a, b in seg:
            ax.plot([a[0], b[0]], [a[1], b[1]], color=color, lw=0.8)
    p = web.pos[inside][:, axes]
    deg = web.degrees[inside]
    ax.scatter(p[deg == 2, 0], p[deg == 2, 1], s=4, color="0.55", zorder=3, label="degree 2")
    ax.scatter(p[deg >= 3, 0], p[deg >= 3, 1], s=12, color="black", zorder=4, label="junction")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=7, frameon=True)


def scan_like_figure(path: Path) -> None:
    """Close-up of the scan-like form: tent sheet patch (top view) and orb sector (front)."""
    tent = build("tent", TentConfig(resolution="auto"), seed=0)
    orb = build("orb", OrbConfig(resolution="auto"), seed=0)
    plt = _pyplot()
    fig, axs = plt.subplots(1, 2, figsize=(11, 5.2))
    try:
        r = tent.meta["resample"]["resolution"]
        _patch(axs[0], tent, [40, -6, -50], [52, 6, 200], [0, 1],
               f"tent, scan-like: sheet patch from above (12 mm), segments ~{r:.2f} mm")
        r = orb.meta["resample"]["resolution"]
        _patch(axs[1], orb, [-10, -50, -75], [45, 50, -20], [0, 2],
               f"orb, scan-like: a sector seen from the front, segments ~{r:.2f} mm")
        for ax in axs:
            ax.set_xlabel("mm")
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)


def print_calibration(seeds: int = 5) -> None:
    for family, (form, targets) in TARGETS.items():
        cfg = TentConfig(resolution="auto") if form == "scan-like" else None
        res = [check_targets(family, build(family, cfg, seed=s)) for s in range(seeds)]
        for k, (lo, hi) in targets.items():
            v = [r[k][0] for r in res]
            ok = all(r[k][3] for r in res)
            print(f"{family:<5} {form:<10} {k:<15} target [{lo:g}, {hi:g}]  seeds 0-{seeds - 1}: "
                  f"{min(v):.3f}-{max(v):.3f}  {'met' if ok else 'MISSED'}")  # fmt: skip


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    for family in VIEWS:
        figure(family, out / f"builders_{family}.png")
        print(out / f"builders_{family}.png")
    scan_like_figure(out / "builders_scan_like.png")
    print(out / "builders_scan_like.png")
    print_calibration()


if __name__ == "__main__":
    main()
