"""Tests of araneus.report.plot: automatic line width, explicit line width, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

from araneus.errors import InputError
from araneus.repair.damage import thread_lattice
from araneus.report.plot import LINEWIDTH_RANGE, auto_linewidth, plot_web
from araneus.web import WebGraph


def test_auto_linewidth_thins_with_thread_amount():
    small = WebGraph(np.eye(3)[:2], [[0, 1]])
    big = thread_lattice(20, sub=2)
    lw_small, lw_big = auto_linewidth(small), auto_linewidth(big)
    assert lw_small == LINEWIDTH_RANGE[1]
    assert LINEWIDTH_RANGE[0] <= lw_big < 0.5 * lw_small
    # scale-free: the same web in other units gets the same width
    assert auto_linewidth(big.transform(scale=25.0)) == pytest.approx(lw_big)
    # only the drawn edges count
    assert auto_linewidth(big, big.edges[:4]) > lw_big
    empty = WebGraph(np.zeros((1, 3)), np.zeros((0, 2), dtype=np.int64))
    assert auto_linewidth(empty) == LINEWIDTH_RANGE[1]


def test_plot_web_linewidth_changes_the_picture(tmp_path):
    import matplotlib.image as mpimg

    web = thread_lattice(4, sub=2)
    paths = []
    for lw in (None, 0.1, 3.0):
        p = tmp_path / f"w{lw}.png"
        plot_web(web, p, linewidth=lw, dpi=60)
        paths.append(p)
    ink = [float((mpimg.imread(p)[..., :3].mean(axis=2) < 0.5).mean()) for p in paths]
    assert ink[1] < ink[0] < ink[2]


@pytest.mark.parametrize("lw", [0.0, -1.0, float("nan"), float("inf")])
def test_plot_web_rejects_bad_linewidth(tmp_path, lw):
    with pytest.raises(InputError, match="linewidth"):
        plot_web(thread_lattice(2), tmp_path / "x.png", linewidth=lw)
    assert not (tmp_path / "x.png").exists()


def test_plot_web_legend_names_every_thread_type(tmp_path):
    """The PNG/SVG legend names thread types from THREAD_TYPES, code 0 as an untyped thread
    (never "unknown"), codes outside the table by number; the default title formats counts."""
    import matplotlib

    from araneus.report.plot import UNTYPED_THREAD, thread_color
    from araneus.web import thread_code

    web = thread_lattice(20, sub=2)
    codes = np.full(web.n_edges, thread_code("radial"), np.int8)
    codes[::3] = 0
    codes[1] = 42
    web = web.replace(edge_attrs={"thread": codes})
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # keep text as text in the SVG
        plot_web(web, tmp_path / "w.svg")
    svg = (tmp_path / "w.svg").read_text()
    assert UNTYPED_THREAD in svg and "radial" in svg and "thread code 42" in svg
    assert "unknown" not in svg
    assert f"{web.n_nodes:,} nodes" in svg and web.n_nodes >= 1000
    assert thread_color(42) == thread_color(0) == "#444444"
