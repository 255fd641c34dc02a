"""Plain-text report of an :func:`araneus.metrics.evaluate` dict (:func:`format_report`)."""

from __future__ import annotations

import numpy as np

from ..features import FEATURE_NAMES

#: How each statistic is shown; ``rel_edge_length`` leads the length figures.
MMD_LABELS = {
    "rel_edge_length": "edge length / web mean (headline length)",
    "edge_length": "edge length, absolute (weighs big webs)",
    "degree": "degree",
    "clustering": "clustering",
    "orbit": "graphlet orbits",
    "orientation": "orientation |cos z|",
}


def pct(x: float | None, digits: int = 1) -> str:
    """``x`` as a percentage, ``-`` for None."""
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def ratio_text(r: dict | None) -> str:
    """An :func:`mmd_ratio` dict as ``2.10x``, or ``no ratio (baseline < 1e-06)``."""
    if r is None:
        return "-"
    if r.get("ratio") is None:
        ok = r.get("baseline") is not None and np.isfinite(r["baseline"])
        return f"no ratio (baseline < {r['floor']:.0e})" if ok else "no ratio"
    return f"{r['ratio']:.2f}x"


def _vun_lines(v: dict) -> list[str]:
    tol = v["geometry_tol"]
    lines = [f"validity {pct(v['valid'])} of {v['n']} webs"]
    if any(v["failures"].values()):
        lines[-1] += " (failed: " + ", ".join(f"{k} {n}" for k, n in v["failures"].items() if n)
        lines[-1] += ")"
    novel = "novelty not measured (no training set)" if v["n_train"] is None else (
        f"novel {pct(v['novel_topology'])} vs {v['n_train']} training webs, "
        f"V.U.N. {pct(v['vun'])}"
    )  # fmt: skip
    lines.append(f"topology (up to isomorphism, as DiGress's V.U.N.): unique "
                 f"{pct(v['unique_topology'])}, {novel}")  # fmt: skip
    novel_g = "" if v["n_train"] is None else f", novel {pct(v['novel_geometry'])}"
    lines.append(f"geometry (nodes within {tol:g} x mean edge length, up to translation): "
                 f"unique {pct(v['unique_geometry'])}{novel_g}")  # fmt: skip
    return lines


def _mmd_lines(rep: dict) -> list[str]:
    base, ratio = rep.get("mmd_baseline"), rep.get("mmd_ratio")
    head = f"MMD^2 ({rep['kernel']} kernel; orbits: l2)"
    if base is None:
        head += "; no baseline given, so no ratios"
    else:
        head += f"; baseline: {rep['n_baseline']} data webs vs the same reference"
    lines = [head, f"  {'statistic':<42}{'generated':>11}{'baseline':>11}  ratio"]
    order = [k for k in MMD_LABELS if k in rep["mmd"]] + [
        k for k in rep["mmd"] if k not in MMD_LABELS
    ]
    for k in order:
        b = "-" if base is None else f"{base[k]:11.3g}"
        r = "" if ratio is None else ratio_text(ratio[k])
        lines.append(f"  {MMD_LABELS.get(k, k):<42}{rep['mmd'][k]:11.3g}{b:>11}  {r}")
    if ratio is not None and any(v["ratio"] is None for v in ratio.values()):
        lines.append("  no ratio: the baseline MMD^2 is ~0, so the statistic does not separate "
                     "the data's own sets there; compare the MMD^2 figures themselves")  # fmt: skip
    return lines


def _structure_lines(s: dict) -> list[str]:
    lines = [f"  {'local structure':<26}{'generated':>11}{'data':>11}  ratio"]
    names = {"triangles_per_web": "triangles per web", "webs_with_triangle":
             "webs with a triangle", "leaf_share": "leaf (degree-1) share"}  # fmt: skip
    for k, name in names.items():
        g, r = s["generated"][k], s["reference"][k]
        rr = s["ratio"][k]
        rt = f"{rr['ratio']:.2f}x" if rr["ratio"] is not None else f"- ({rr['note']})"
        fmt = (lambda x: f"{x:11.3f}") if k == "triangles_per_web" else (lambda x: f"{pct(x):>11}")
        lines.append(f"  {name:<26}{fmt(g)}{fmt(r)}  {rt}")
    return lines


def _fidelity_lines(f: dict, title: str) -> list[str]:
    pooled = "undefined" if f["pooled_r2"] is None else f"{f['pooled_r2']:.4f}"
    note = f" ({f['pooled_note']})" if f.get("pooled_note") else ""
    lines = [f"{title}: pooled R^2 {pooled}{note}",
             f"  {'feature':<18}{'R^2':>9}{'median rel':>12}{'mean rel':>10}{'p90 rel':>10}"
             f"{'MAE':>11}{'n':>5}"]  # fmt: skip
    for name, d in f["per_feature"].items():
        r2 = "undefined" if d["r2"] is None else f"{d['r2']:.4f}"
        lines.append(f"  {name:<18}{r2:>9}{pct(d['median_rel_err'], 2):>12}"
                     f"{pct(d['rel_err'], 2):>10}{pct(d['p90_rel_err'], 2):>10}"
                     f"{d['mae']:11.4g}{d['n']:5d}")  # fmt: skip
    for name, d in f["per_feature"].items():
        if d["r2"] is None:
            lines.append(f"  {name}: R^2 undefined, {d['r2_note']}; see the relative error")
    return lines


def _repair_line(r: dict | None) -> str:
    if r is None:
        return "decoder repairs: not recorded (only the sampling run knows them)"
    line = f"decoder repairs: {pct(r['repair_rate'])} of {r.get('samples', '?')} samples"
    if r.get("bridge_samples"):
        line += (f" ({r['bridge_samples']} joined by the sampler: the model's draw left "
                 f"{r.get('bridge_nodes', '?')} nodes without an earlier neighbour)")  # fmt: skip
    return line


def format_report(rep: dict) -> str:
    """A plain-text table of an :func:`evaluate` report."""
    lines = []
    if rep.get("label"):
        lines.append(f"== {rep['label']}")
    lines.append(f"generated: {rep['n_generated']} webs, reference: {rep['n_reference']} webs")
    lines += _vun_lines(rep["vun"])
    if "repair" in rep:
        lines.append(_repair_line(rep["repair"]))
    lines += _mmd_lines(rep)
    if "structure" in rep:
        lines += _structure_lines(rep["structure"])
    lines.append(f"  {'feature (mean)':<26}{'generated':>11}{'reference':>11}")
    for name in FEATURE_NAMES:
        g, r = rep["feature_means"]["generated"][name], rep["feature_means"]["reference"][name]
        lines.append(f"  {name:<26}{g:11.4g}{r:11.4g}")
    f = rep.get("fidelity")
    if f:
        lines += _fidelity_lines(f, "fidelity (requested vs achieved)")
        if f.get("orientation_shares"):
            lines += _fidelity_lines(
                f["orientation_shares"], "orientation shares (mean |d*| / mean edge length)"
            )
    return "\n".join(lines)
