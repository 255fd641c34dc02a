"""Output folder and ``report.html`` of :func:`araneus.demo.run_demo`.

Layout of the folder::

    webs/        source.json, dataset.npz, samples/<model>_<k>.json, helix_tower.json,
                 lorenz.json
    meshes/      helix_tower.stl, lorenz.stl (watertight, mm)
    mechanics/   <structure>_<material>/ curve.csv, curve.png, stress.png, summary.json
    figures/     source_web.png (+ source/ analysis histograms), samples_<model>.png,
                 helix_tower.png, lorenz.png, feature_histograms.png,
                 requested_vs_achieved.png
    generation.csv   requested vs achieved features of every generated web
    metrics.json     per model and way of sampling ("model alone", "constrained"): the
                     full araneus.metrics.evaluate report
    summary.json     settings, sizes, timings and headline figures
    report.html      self-contained interactive report (plotly embedded, works offline)
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ._util import write_text_atomic
from .features import FEATURE_NAMES, conditioning_features
from .metrics.structure import STRUCTURE_KEYS
from .web import WebGraph, concat_webs

MATERIAL_LABEL = {"silk": "spider silk (dragline/viscid)", "pla": "printed PLA"}


# ---------------------------------------------------------------------------- helpers
def sample_grid(webs: list[WebGraph], cols: int = 4) -> WebGraph:
    """Webs laid side by side on a grid in the x-y plane (for one combined view)."""
    if not webs:
        return WebGraph(np.zeros((0, 3)))
    size = max(float((w.bbox()[1] - w.bbox()[0]).max()) if w.n_nodes else 1.0 for w in webs)
    step = 1.3 * size
    placed = []
    for k, w in enumerate(webs):
        if w.n_nodes == 0:
            continue
        off = np.array([(k % cols) * step, -(k // cols) * step, 0.0])
        placed.append(w.centered().translate(off))
    return concat_webs(placed)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, Path):
        return str(x)
    return x


def _write_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(_jsonable(obj), indent=2) + "\n")


def _generation_csv(runs: dict, path: Path) -> None:
    head = ["model", "condition", "sample"]
    head += [f"requested_{f}" for f in FEATURE_NAMES] + [f"achieved_{f}" for f in FEATURE_NAMES]
    lines = [",".join(head)]
    for name, run in runs.items():
        for k in range(len(run.webs)):
            vals = [*run.requested[k], *run.achieved[k]]
            row = [name, str(int(run.condition_index[k])), str(k)]
            lines.append(",".join(row + [f"{v:.6g}" for v in vals]))
    write_text_atomic(path, "\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- figures
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_png(fig, path: Path) -> None:
    from ._util import atomic_output

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
            ax.set_title(name, fontsize=9)
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
            ax.set_title(name, fontsize=9)
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

    fig = make_subplots(rows=2, cols=4, subplot_titles=FEATURE_NAMES)
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
    fig = make_subplots(rows=2, cols=4, subplot_titles=FEATURE_NAMES)
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


def curves_figure(structures: dict):
    """Plotly: force-displacement curves, one panel per material."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    mats = ["silk", "pla"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=[MATERIAL_LABEL[m] for m in mats])
    for c, mat in enumerate(mats):
        for s, st in enumerate(structures.values()):
            t = st.tests.get(mat)
            if t is None:
                continue
            fig.add_trace(
                go.Scatter(x=t.curve.displacement, y=t.curve.force, mode="lines+markers",
                           name=f"{st.name} ({t.test})", legendgroup=st.name, showlegend=c == 0,
                           marker={"size": 4}, line={"color": ["#1f77b4", "#d62728"][s % 2]}),
                row=1, col=c + 1,
            )  # fmt: skip
        fig.update_xaxes(title_text="grip displacement [mm]", row=1, col=c + 1)
        fig.update_yaxes(title_text="force [N]", row=1, col=c + 1)
    fig.update_layout(
        title={"text": "Force-displacement curves of the virtual tension tests"},
        height=440,
        margin={"t": 80, "l": 50, "r": 10, "b": 40},
    )
    return fig


# ---------------------------------------------------------------------------- tables
#: What constrained sampling sets, said beside every constrained figure.
CONSTRAINT_NOTE = ("node and edge counts and the mean edge length set exactly; each web "
                   "rotated rigidly toward the requested orientation")  # fmt: skip


def _runs_in_table_order(result):
    """(name, sampling, metrics, seconds) with every model-alone row first."""
    for mode in ("alone", "constrained"):
        for name, r in result.runs.items():
            m = r.alone_metrics if mode == "alone" else r.metrics
            if m is not None:
                secs = r.alone_seconds if mode == "alone" else r.seconds
                yield name, m.get("label") or mode, m, secs


def _ratio(m: dict, stat: str) -> float | None:
    return ((m.get("mmd_ratio") or {}).get(stat) or {}).get("ratio")


def _fid(m: dict, feature: str, key: str, part: str = "per_feature") -> float | None:
    f = m.get("fidelity") or {}
    if part != "per_feature":
        f = f.get(part) or {}
    return ((f.get("per_feature") or {}).get(feature) or {}).get(key)


def model_rows(result) -> list[dict[str, Any]]:
    """One row per model and way of sampling (model-alone rows first): validity,
    uniqueness and novelty on topology and geometry, repairs, fidelity (R^2 None where
    undefined), MMD^2 and its ratio to a training draw (None where the baseline is ~0),
    triangles and leaves against the data's, speed."""
    rows = []
    for name, sampling, m, secs in _runs_in_table_order(result):
        v, fid, st = m["vun"], m.get("fidelity") or {}, m.get("structure") or {}
        row = {
            "model": name,
            "sampling": sampling,
            "constraint": CONSTRAINT_NOTE if sampling == "constrained" else None,
            "parameters": sum(int(p.numel()) for p in result.models[name].net.parameters()),
            "webs": m["n_generated"],
            "valid": v["valid"],
            "unique topology": v.get("unique_topology"),
            "novel topology": v.get("novel_topology"),
            "V.U.N.": v.get("vun"),
            "unique geometry": v.get("unique_geometry"),
            "novel geometry": v.get("novel_geometry"),
            "decoder repair rate": m.get("repair_rate"),
            "pooled R^2": fid.get("pooled_r2"),
            "median rel. error mean edge length": _fid(m, "mean_edge_length", "median_rel_err"),
            **{
                f"R^2 orientation share {a}": _fid(m, f"share_{a}", "r2", "orientation_shares")
                for a in "xyz"
            },  # fmt: skip
            **{
                f"median rel. error orientation share {a}": _fid(
                    m, f"share_{a}", "median_rel_err", "orientation_shares"
                )
                for a in "xyz"
            },  # fmt: skip
            **{f"MMD {k}": val for k, val in m["mmd"].items()},
            **{f"MMD {k} ratio": _ratio(m, k) for k in m["mmd"]},
            **{f"{k}": (st.get("generated") or {}).get(k) for k in STRUCTURE_KEYS},
            **{f"{k} (data)": (st.get("reference") or {}).get(k) for k in STRUCTURE_KEYS},
            "ms per web": 1000 * secs / max(m["n_generated"], 1),
        }
        rows.append(row)
    return rows


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _x(x) -> str:
    return "no ratio (baseline ~0)" if x is None else f"{x:.2f}x"


def metrics_table(result) -> list[dict[str, str]]:
    """The report's model table: :func:`model_rows` formatted for people, fewer columns."""
    out = []
    for row in model_rows(result):
        r2 = [row[f"R^2 orientation share {a}"] for a in "xyz"]
        rel = row["median rel. error mean edge length"]
        out.append({
            "model": row["model"],
            "sampling": row["sampling"] + (" *" if row["constraint"] else ""),
            "valid": _pct(row["valid"]),
            "unique / novel (topology)": f"{_pct(row['unique topology'])} / "
                                         f"{_pct(row['novel topology'])}",
            "unique / novel (geometry)": f"{_pct(row['unique geometry'])} / "
                                         f"{_pct(row['novel geometry'])}",
            "repairs": _pct(row["decoder repair rate"]),
            "pooled R^2": "undefined" if row["pooled R^2"] is None else f"{row['pooled R^2']:.2f}",
            "length error (median)": "-" if rel is None else f"{100 * rel:.1f}%",
            "orientation share R^2 x / y / z": " / ".join(
                "undef." if v is None else f"{v:.2f}" for v in r2
            ),
            "orientation share error x / y / z (median)": " / ".join(
                _pct(row[f"median rel. error orientation share {a}"]) for a in "xyz"
            ),
            "MMD ratio: rel. length / degree / orbit": " / ".join(
                _x(row[f"MMD {k} ratio"]) for k in ("rel_edge_length", "degree", "orbit")
            ),
            "triangles per web (data)": f"{row['triangles_per_web']:.2f} "
                                        f"({row['triangles_per_web (data)']:.2f})",
            "leaf share (data)": f"{_pct(row['leaf_share'])} ({_pct(row['leaf_share (data)'])})",
            "ms per web": f"{row['ms per web']:.0f}",
        })  # fmt: skip
    return out


def achieved_rows(result) -> list[dict[str, Any]]:
    """Requested vs mean achieved features per condition and model."""
    rows = []
    short = {f: f.replace("mean_", "").replace("num_", "n_") for f in FEATURE_NAMES}
    for c, cond in enumerate(result.conditions):
        rows.append({"condition": c, "source": "requested",
                     **{short[f]: cond[f] for f in FEATURE_NAMES}})  # fmt: skip
        for name, r in result.runs.items():
            sel = r.condition_index == c
            mean = r.achieved[sel].mean(axis=0)
            rows.append({"condition": c, "source": name,
                         **{short[f]: float(v) for f, v in zip(FEATURE_NAMES, mean)}})  # fmt: skip
    return rows


def structure_rows(result) -> list[dict[str, Any]]:
    """Assembly, mesh and test figures per structure and material."""
    rows = []
    for st in result.structures.values():
        a = st.assembly
        for mat, t in st.tests.items():
            rows.append({
                "structure": st.name,
                "pieces": a["pieces"],
                "nodes": st.web.n_nodes,
                "edges": st.web.n_edges,
                "STL watertight": st.mesh_summary.get("watertight"),
                "triangles": st.mesh_summary.get("triangles"),
                "test": t.test,
                "material": mat,
                "stiffness N/mm": t.stiffness,
                "peak force N": t.peak_force,
                "energy mJ": t.energy_to_failure,
                "energy per mass J/kg": t.specific_energy,
                "broken members": int(t.broken.sum()),
            })  # fmt: skip
    return rows


# ---------------------------------------------------------------------------- writing
def _write_webs(result, out: Path) -> dict[str, Path]:
    from .io import write_web

    webs_dir = out / "webs"
    (webs_dir / "samples").mkdir(parents=True, exist_ok=True)
    files = {"source_web": webs_dir / "source.json", "dataset": webs_dir / "dataset.npz"}
    write_web(result.source, files["source_web"])
    result.dataset.save(files["dataset"])
    for name, run in result.runs.items():
        for k, w in enumerate(run.webs):
            write_web(w, webs_dir / "samples" / f"{name}_{k:02d}.json")
    for st in result.structures.values():
        files[f"{st.name}_web"] = webs_dir / f"{st.name}.json"
        write_web(st.web, files[f"{st.name}_web"])
    return files


def _write_meshes_and_tests(result, out: Path) -> dict[str, Path]:
    from .fabricate import export_mesh

    files: dict[str, Path] = {}
    for st in result.structures.values():
        files[f"{st.name}_stl"] = export_mesh(st.mesh, out / "meshes" / f"{st.name}.stl")
        for mat, t in st.tests.items():
            folder = out / "mechanics" / f"{st.name}_{mat}"
            for p in t.save(st.web, folder):
                files[f"{st.name}_{mat}_{p.stem}"] = p
    return files


def _write_figures(result, out: Path) -> dict[str, Path]:
    from .plot import plot_web
    from .report_figures import write_analysis_figures

    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    files = {"source_png": fig_dir / "source_web.png"}
    src = result.source
    plot_web(src, files["source_png"], title=f"source tent web: {src.n_nodes} nodes")
    for k, p in write_analysis_figures(src, fig_dir / "source", title="source").items():
        files[f"source_{k}"] = p
    for name, run in result.runs.items():
        files[f"samples_{name}"] = fig_dir / f"samples_{name}.png"
        plot_web(sample_grid(run.webs[:8]), files[f"samples_{name}"], title=f"{name}: samples")
    for st in result.structures.values():
        files[f"{st.name}_png"] = fig_dir / f"{st.name}.png"
        plot_web(st.web, files[f"{st.name}_png"], title=f"{st.name}: {st.web.n_nodes} nodes")
    files["feature_histograms"] = fig_dir / "feature_histograms.png"
    feature_histograms_png(result.dataset, result.runs, files["feature_histograms"])
    files["requested_vs_achieved"] = fig_dir / "requested_vs_achieved.png"
    requested_achieved_png(result.runs, files["requested_vs_achieved"])
    return files


def build_summary(result) -> dict[str, Any]:
    """The JSON-friendly summary of a run (``summary.json``)."""
    import araneus

    cfg = result.config
    return {
        "araneus_version": getattr(araneus, "__version__", "unknown"),
        "python": platform.python_version(),
        "config": asdict(cfg),
        "sizes": asdict(cfg.sizes),
        "weights": "packaged" if cfg.weights_dir is None else str(cfg.weights_dir),
        "timings_s": dict(result.timings),
        "source": {
            "nodes": result.source.n_nodes,
            "edges": result.source.n_edges,
            "features": conditioning_features(result.source),
        },  # fmt: skip
        "dataset": {
            "samples": len(result.dataset),
            "splits": np.bincount(result.dataset.split, minlength=3).tolist(),
        },  # fmt: skip
        "conditions": result.conditions,
        "models": model_rows(result),
        "structures": {
            st.name: {
                "assembly": st.assembly,
                "mesh": st.mesh_summary,
                "tests": {m: t.summary() for m, t in st.tests.items()},
            }
            for st in result.structures.values()
        },
        **result.summary,
    }


def build_report(result, summary: dict[str, Any]):
    """The :class:`~araneus.report.Report` of a demo run (sections in story order)."""
    from .report import Report

    rep = Report("araneus demo: from a tent web to printed, tested structures")
    src = result.source
    rep.text(
        "Every number and figure below was produced by one call of `araneus demo` "
        f"(seed {result.config.seed}, {'quick' if result.config.quick else 'full'} run)."
    )
    rep.heading("1. Source web")
    rep.table([{"nodes": src.n_nodes, "edges": src.n_edges, **conditioning_features(src)}],
              title="Source web statistics")  # fmt: skip
    rep.web(src, title="Cyrtophora tent web (coloured by thread type)")
    rep.heading("2. Dataset")
    rep.text(f"{len(result.dataset)} random-walk samples of 16-64 nodes cut out of the source "
             f"web; train/val/test = {summary['dataset']['splits']}.")  # fmt: skip
    rep.figure(histogram_figure(result.dataset, result.runs), "Feature histograms")
    rep.heading("3-4. Pretrained models: generation for requested conditions")
    rep.text("Conditions are the features of held-out test samples. Each model samples them "
             "twice: alone (exact=false), then constrained (*, the models' default: "
             f"{CONSTRAINT_NOTE}, edges chosen by each model's own scores). Model-alone rows "
             "come first: they show what each network has learnt by itself; the constrained "
             "rows meet those figures by construction. Uniqueness and novelty (against the "
             "training split) are up to isomorphism (DiGress's V.U.N.), and separately on "
             "geometry (nodes within 5% of the mean edge length, up to translation). "
             "MMD^2 is measured against the test split and given as a ratio to the MMD^2 of a "
             "training draw of the same size (no ratio where that is ~0); the length "
             "statistic compares edge lengths divided by each web's mean. R^2 is undefined "
             "where the requested values do not vary. The repair rate says how often the "
             "decoder had to fix a model's output (for the autoregressive model, how often "
             "its sampler had to pick a node's earlier neighbour because the model's draw "
             "gave it none).")  # fmt: skip
    rep.table(metrics_table(result), title="Model figures (model alone first)")
    rep.table(achieved_rows(result), title="Requested vs achieved (mean of the samples)")
    rep.figure(scatter_figure(result.runs), "Requested vs achieved")
    for name, run in result.runs.items():
        rep.web(sample_grid(run.webs[:8]), title=f"Generated samples: {name}")
    rep.heading("5-6. Assemblies, meshes and virtual tension tests")
    sched = summary.get("assembly_schedule", {})
    grade = sched.get("mean_edge_length")
    if isinstance(grade, (list, tuple)) and len(grade) == 2:
        grade = f"{float(grade[0]):.3g} at the base to {float(grade[1]):.3g} at the top"
    rep.text(f"Pieces generated one per placement; mean edge length graded from {grade}.")
    rep.table(structure_rows(result), title="Structures")
    for st in result.structures.values():
        rep.web(st.web, title=f"{st.name} (thread type; 'stitch' joins pieces)")
        silk = st.tests.get("silk")
        if silk is not None:
            stress = np.nan_to_num(silk.member_stress, nan=0.0)
            rep.web(st.web, title=f"{st.name}: silk member stress at peak",
                    values=stress, value_label="stress [MPa]")  # fmt: skip
    rep.figure(curves_figure(result.structures), "Force-displacement curves")
    rep.heading("Settings")
    rep.settings({k: summary[k] for k in ("config", "sizes", "weights", "timings_s")},
                 title="Settings used")  # fmt: skip
    return rep


def write_outputs(result, out: str | Path) -> dict[str, Path]:
    """Write the whole output folder of a demo run; returns (and stores) the file map."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = _write_webs(result, out)
    files |= _write_meshes_and_tests(result, out)
    files |= _write_figures(result, out)
    files["generation_csv"] = out / "generation.csv"
    _generation_csv(result.runs, files["generation_csv"])
    files["metrics"] = out / "metrics.json"
    _write_json(files["metrics"], {
        n: {m["label"]: m for m in (r.alone_metrics, r.metrics) if m is not None}
        for n, r in result.runs.items()
    })  # fmt: skip
    summary = build_summary(result)
    files["report"] = build_report(result, summary).write(out / "report.html")
    files["summary"] = out / "summary.json"
    summary["files"] = {k: str(p.relative_to(out)) for k, p in files.items()}
    _write_json(files["summary"], summary)
    result.files = files
    result.summary = summary
    return files
