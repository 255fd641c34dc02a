"""Assembled structures designed for a graded stiffness: one designed piece per placement.

:func:`design_tower` asks for a descriptor that changes along a curve (a geometric ramp
from ``start`` at the first placement to ``end`` at the last), designs a piece for each
placement (:func:`araneus.design.design`, the best FE-verified candidate), and joins the
pieces along the curve (:func:`araneus.assembly.assemble`, pieces unscaled, so each keeps
its verified stiffness per gram). The descriptors are those of each piece in its own
axes, before it is turned into the curve's frame (with ``orient="frame"`` the piece's x
axis follows the curve).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._util import write_text_atomic
from ..errors import InputError
from ..web import WebGraph
from .search import DesignResult, check_targets, design


@dataclass
class TowerResult:
    """The assembled web, the design run of every placement and one row per placement."""

    web: WebGraph
    designs: list[DesignResult]
    rows: list[dict]
    seconds: float


def graded_values(start: float, end: float, k: int) -> np.ndarray:
    """(k,) geometric ramp from ``start`` to ``end`` (constant if equal)."""
    check_targets({"stiffness_z_per_mass": start})
    check_targets({"stiffness_z_per_mass": end})
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 1000:
        raise InputError(f"pieces must be an integer in 1..1000, got {k!r}")
    u = np.linspace(0.0, 1.0, int(k)) if k > 1 else np.zeros(1)
    return float(start) * (float(end) / float(start)) ** u


def design_tower(
    target: str,
    start: float,
    end: float,
    pieces: int = 8,
    curve: str = "helix",
    curve_settings: Sequence[str] = (),
    material: str = "silk",
    model="sparse",
    n: int = 8,
    rounds: int = 2,
    strut: float | None = None,
    data=None,
    seed: int = 0,
    overlap: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> TowerResult:
    """Design ``pieces`` pieces for ``target`` graded from ``start`` to ``end`` and
    assemble them along ``curve`` (a name of :data:`araneus.assembly.CURVES` with
    ``curve_settings`` such as ``["radius=20", "pitch=180"]``). Other arguments as in
    :func:`araneus.design.design`."""
    import time

    from ..assembly import CurveSpec, assemble
    from .search import design_data, load_generator

    t0 = time.perf_counter()
    check_targets({target: start})
    values = graded_values(start, end, pieces)
    spec = CurveSpec(curve, list(curve_settings))
    gen, _ = load_generator(model)
    if data is None and target not in getattr(gen, "feature_names", ()):
        data = design_data(material, strut)
    runs, best, rows = [], [], []
    for i, v in enumerate(values):
        res = design({target: float(v)}, material, gen, n=n, rounds=rounds, strut=strut,
                     data=data, seed=seed + i)  # fmt: skip
        runs.append(res)
        j = int(res.order[0])
        best.append(res.candidates[j].web)
        ach = res.achieved(j)[target]
        rows.append({"placement": i, "requested": float(v), "achieved": ach,
                     "relative_error": ach / float(v) - 1.0,
                     "nodes": res.candidates[j].web.n_nodes})  # fmt: skip
        if progress is not None:
            progress(i + 1, len(values))
    web, report = assemble(spec, best, steps=len(best), overlap=overlap, seed=seed)
    web.meta = {**web.meta, "design": {"target": target, "start": start, "end": end,
                                       "material": material, "pieces": rows}}  # fmt: skip
    return TowerResult(web, runs, rows, time.perf_counter() - t0)


def write_tower(result: TowerResult, out: str | Path, target: str) -> dict[str, Path]:
    """Write ``tower.json`` (the web), ``tower_pieces.csv`` (placement, requested,
    achieved, relative_error, nodes) and ``tower.html`` (the tower coloured by each
    piece's achieved value, requested vs achieved along the curve)."""
    import plotly.graph_objects as go

    from ..io import write_web
    from ..report import Report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"web": out / "tower.json", "csv": out / "tower_pieces.csv",
             "html": out / "tower.html", "summary": out / "tower_summary.json"}  # fmt: skip
    write_web(result.web, paths["web"])
    lines = ["placement,requested,achieved,relative_error,nodes"]
    lines += [f"{r['placement']},{r['requested']:.6g},{r['achieved']:.6g},"
              f"{r['relative_error']:.6g},{r['nodes']}" for r in result.rows]  # fmt: skip
    write_text_atomic(paths["csv"], "\n".join(lines) + "\n")
    write_text_atomic(paths["summary"], json.dumps({"target": target, "pieces": result.rows,
                                                    "seconds": result.seconds}, indent=1))  # fmt: skip
    rep = Report(f"Assembled structure graded in {target}")
    err = np.abs([r["relative_error"] for r in result.rows])
    rep.text(f"{len(result.rows)} pieces, each the best of its FE-verified candidates; "
             f"relative error median {np.median(err):.1%}, largest {err.max():.1%}; "
             f"{result.seconds:.1f} s.")  # fmt: skip
    piece = result.web.node_attrs.get("piece")
    if piece is not None:
        ach = np.array([r["achieved"] for r in result.rows])
        vals = np.log10(ach[np.asarray(piece)[result.web.edges[:, 0]]])
        rep.web(result.web, title="tower, threads coloured by their piece's achieved value",
                values=vals, value_label=f"log10 {target} [N/mm/g]")  # fmt: skip
    fig = go.Figure()
    x = [r["placement"] for r in result.rows]
    fig.add_trace(go.Scatter(x=x, y=[r["requested"] for r in result.rows], name="requested",
                             mode="lines+markers"))  # fmt: skip
    fig.add_trace(go.Scatter(x=x, y=[r["achieved"] for r in result.rows], name="achieved (FE)",
                             mode="markers"))  # fmt: skip
    fig.update_yaxes(type="log", title_text=f"{target} [N/mm/g]")
    fig.update_xaxes(title_text="placement along the curve")
    fig.update_layout(height=380, margin={"t": 30, "l": 60, "r": 10, "b": 40})
    rep.figure(fig, title="Requested and achieved along the curve")
    rep.table(result.rows, title="Pieces")
    rep.write(paths["html"])
    return paths
