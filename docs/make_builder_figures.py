"""Regenerate the builder figures in docs/ (orb, tent, tangle 3-D views).

Usage: python docs/make_builder_figures.py [OUTDIR]

Uses :func:`araneus.plot.draw_web` with hand-tuned line widths per family (close to what
:func:`araneus.plot.auto_linewidth` picks) and per-family view angles.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from araneus._util import atomic_output
from araneus.builders import build
from araneus.plot import _THREAD_COLORS, _pyplot, draw_web
from araneus.web import THREAD_TYPES

VIEWS = {  # family: (elev, azim, line width, title)
    "orb": (12, -70, 0.6, "orb web (Araneus-like), seed 0"),
    "tent": (28, -60, 0.15, "tent web (Cyrtophora-like), seed 0: domed sheet in a barrier tangle"),
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


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    for family in VIEWS:
        figure(family, out / f"builders_{family}.png")
        print(out / f"builders_{family}.png")


if __name__ == "__main__":
    main()
