"""Writing a design run: the webs, ``designs.csv``, ``design.json`` and an HTML page.

The page shows the best designs in 3-D, a table of requested and achieved descriptors, and
force-displacement curves to final failure of the nonlinear virtual tests
(:mod:`araneus.mechanics.nonlinear`): the point load with exactly the supports, load node,
direction and prestress of ``point_stiffness_per_mass``, and the standard tension test of
``araneus test`` (grips on the outer 5% slabs) along each requested tension axis.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .._util import write_text_atomic
from ..errors import AraneusError, InputError
from ..mechanics.descriptors import MECHANICAL_FEATURES
from ..web import WebGraph
from .search import DesignResult

#: Upper end of the nonlinear curves: grip travel as a multiple of the web's extent.
CURVE_STRAIN = 3.0


def point_test(web: WebGraph, material: str, strut: float | None = None, steps: int = 40):
    """The nonlinear point-load test behind ``point_stiffness_per_mass``: attachment points
    held, the load node pulled along the normal to final failure, from the descriptor's
    prestress (silk). Returns a :class:`~araneus.mechanics.nonlinear.NonlinearResult`
    whose ``stiffness`` is the descriptor times the mass."""
    from ..mechanics.attachment import Union, load_nodes, piece_tests
    from ..mechanics.batched import batch_prestress
    from ..mechanics.descriptors import _material, _union_law
    from ..mechanics.materials import ElasticPlastic
    from ..mechanics.nonlinear import displacement_control

    mat, level, silk = _material(material, "auto")
    u = Union.from_webs([web], mat, strut)
    law, density = _union_law(u, mat)
    tests = piece_tests(u, density)
    length = np.linalg.norm(u.pos[u.edges[:, 1]] - u.pos[u.edges[:, 0]], axis=1)
    if silk:
        ps = batch_prestress(u.pos, u.edges, tests.held, u.node_piece, 1, law, u.diameter, level,
                             reference=~u.viscid)  # fmt: skip
        if ps.failed[0]:
            raise InputError(f"point test: {ps.failed[0]}")
        act, pos, rest = ps.active, ps.pos, ps.rest_length[ps.active]
    else:
        act, pos, rest = np.ones(len(length), bool), u.pos, length
    edges = u.edges[act]
    has = np.zeros(len(pos), bool)
    has[edges.ravel()] = True
    c = load_nodes(pos, ~(tests.held | ~has), u.node_piece, 1, tests)[0]
    if c < 0:
        raise InputError("point test: no free node to load")
    sub = law.take(np.flatnonzero(act)) if np.ndim(law.E) else law
    bending = isinstance(law, ElasticPlastic) and not law.tension_only
    return displacement_control(
        pos, edges, sub, u.diameter[act], np.flatnonzero(tests.held), [c], tests.normal[0],
        CURVE_STRAIN * float(tests.span[0].max()), steps=steps, bending=bending, partial=True,
        rest_length=rest,
    )  # fmt: skip


def _curves(result: DesignResult, k: int) -> list[dict]:
    """Nonlinear curves of the ``k`` best designs (a failed test is reported, not raised)."""
    from ..mechanics.virtual import virtual_test

    axes = [t[len("stiffness_")] for t in result.targets if t.startswith("stiffness_")]
    out = []
    for r, cand in enumerate(result.best(k)):
        tests: list[tuple[str, Any]] = [("point load (descriptor supports)", "point")]
        tests += [(f"tension-{a} (araneus test grips)", a) for a in axes]
        for label, kind in tests:
            try:
                if kind == "point":
                    res = point_test(cand.web, result.material, result.strut)
                    d, f, end, work = res.displacement, res.force, _end(res), res.external_work
                else:
                    vt = virtual_test(cand.web, f"tension-{kind}", result.material, result.strut)
                    d, f, end, work = (vt.curve.displacement, vt.curve.force, vt.end,
                                       vt.curve.external_work)  # fmt: skip
            except AraneusError as exc:
                out.append({"rank": r + 1, "test": label, "error": str(exc)})
                continue
            mass = _mass(cand.web, result.material, result.strut)
            peak = float(np.max(f)) if len(f) else float("nan")
            energy = float(work[-1]) if len(work) else float("nan")
            out.append({"rank": r + 1, "test": label, "displacement": d, "force": f, "end": end,
                        "peak_N": peak, "peak_N_per_g": peak / mass,
                        "energy_mJ": energy, "energy_J_per_kg": energy / mass})  # fmt: skip
    return out


def _mass(web: WebGraph, material: str, strut: float | None) -> float:
    """Mass of a web as the descriptors count it [g]."""
    from ..mechanics.attachment import Union, piece_tests
    from ..mechanics.descriptors import _material, _union_law

    mat = _material(material, "auto")[0]
    u = Union.from_webs([web], mat, strut)
    return float(piece_tests(u, _union_law(u, mat)[1]).mass[0])


def _end(res) -> str:
    if res.failed:
        return "final failure"
    return "stopped: " + res.stopped if res.stopped else "end of travel"


def _curves_figure(curves: list[dict]):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    kinds = list(dict.fromkeys(c["test"] for c in curves if "force" in c))
    fig = make_subplots(rows=1, cols=max(len(kinds), 1), subplot_titles=kinds or ["(none)"])
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for c in curves:
        if "force" not in c:
            continue
        col = kinds.index(c["test"]) + 1
        fig.add_trace(
            go.Scatter(x=c["displacement"], y=c["force"], mode="lines", name=f"design {c['rank']}",
                       legendgroup=str(c["rank"]), showlegend=col == 1,
                       line={"color": colors[(c["rank"] - 1) % len(colors)]}),
            row=1, col=col,
        )  # fmt: skip
        fig.update_xaxes(title_text="displacement [mm]", row=1, col=col)
        fig.update_yaxes(title_text="force [N]", row=1, col=col)
    fig.update_layout(height=420, margin={"t": 60, "l": 50, "r": 10, "b": 40},
                      title={"text": "Force-displacement curves to final failure"})  # fmt: skip
    return fig


def _summary(result: DesignResult, files: list[str]) -> dict:
    rows = []
    for r, i in enumerate(result.order[: len(files)]):
        c = result.candidates[i]
        rows.append({"rank": r + 1, "file": files[r], "round": c.round + 1, "how": c.how,
                     "worst_relative_error": result.error(i),
                     "descriptors": dict(zip(MECHANICAL_FEATURES, map(float, c.achieved))),
                     "conditions": c.conditions, "nodes": c.web.n_nodes,
                     "edges": c.web.n_edges})  # fmt: skip
    return {
        "targets": result.targets, "material": result.material, "strut_mm": result.strut,
        "model": result.model, "model_conditioned_on_targets": result.conditioned,
        "candidates": len(result.candidates), "seconds": round(result.seconds, 3),
        "rounds": result.rounds, "notes": result.notes, "designs": rows,
    }  # fmt: skip


def write_design(
    result: DesignResult, out: str | Path, keep: int | None = None, page: int = 4,
    curves: bool = True, fmt: str = "json",
) -> dict[str, Path]:
    """Write the ``keep`` best designs (default: as many as one round's candidates) as web
    files ``design_001.<fmt>`` ..., ``designs.csv`` (``rank, file, target, requested,
    achieved, relative_error``; one row per design and target, best first),
    ``design.json`` (settings, rounds, every written design's descriptors) and
    ``designs.html`` (the ``page`` best in 3-D, their table and curves). Returns the paths."""
    from ..io import write_web
    from ..report import Report

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    n_round = result.rounds[0]["candidates"] if result.rounds else len(result.candidates)
    keep = min(len(result.candidates), n_round if keep is None else int(keep))
    files = []
    for r, cand in enumerate(result.best(keep)):
        i = int(result.order[r])
        web = cand.web.replace(meta={**cand.web.meta, "design": {
            "rank": r + 1, "targets": result.targets, "achieved": result.achieved(i),
            "material": result.material}})  # fmt: skip
        name = f"design_{r + 1:03d}.{fmt}"
        write_web(web, out / name)
        files.append(name)
    rows = result.rows(keep, files)
    lines = ["rank,file,target,requested,achieved,relative_error"]
    lines += [f"{r['rank']},{r['file']},{r['target']},{r['requested']:.6g},{r['achieved']:.6g},"
              f"{r['relative_error']:.6g}" for r in rows]  # fmt: skip
    paths = {"csv": out / "designs.csv", "json": out / "design.json", "html": out / "designs.html"}
    write_text_atomic(paths["csv"], "\n".join(lines) + "\n")
    summary = _summary(result, files)
    write_text_atomic(paths["json"], json.dumps(summary, indent=1, default=_jsonable) + "\n")
    rep = Report(f"Design for mechanics: {', '.join(f'{k}={v:g}' for k, v in result.targets.items())}")
    rep.text(f"{len(result.candidates)} candidates from model {result.model} in "
             f"{len(result.rounds)} round(s), each verified by the finite-element descriptors "
             f"({result.material}); {result.seconds:.1f} s. " + " ".join(result.notes))  # fmt: skip
    rep.table(rows[: page * len(result.targets)], title="Best designs (relative error = "
              "achieved / requested - 1)")  # fmt: skip
    rep.table(result.rounds, title="Rounds")
    for r, cand in enumerate(result.best(page)):
        rep.web(cand.web, title=f"design {r + 1}: {cand.web.n_nodes} nodes, {cand.web.n_edges} "
                f"edges, worst error {result.error(int(result.order[r])):.1%}")  # fmt: skip
    if curves:
        cv = _curves(result, page)
        rep.figure(_curves_figure(cv), title="Nonlinear virtual tests of the best designs")
        rep.table([{k: v for k, v in c.items() if k not in ("displacement", "force")} for c in cv],
                  title="Test ends, peak force and energy to failure (also per gram)")  # fmt: skip
    rep.write(paths["html"])
    return {**paths, **{f: out / f for f in files}}


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")
