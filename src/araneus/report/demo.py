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

from .._util import write_text_atomic
from ..features import FEATURE_NAMES, conditioning_features
from ..metrics.structure import STRUCTURE_KEYS
from ..web import WebGraph, concat_webs
from .demo_figures import (
    FEATURE_LABELS,
    feature_histograms_png,
    histogram_figure,
    requested_achieved_png,
    scatter_figure,
)
from .demo_warnings import (
    MATERIAL_LABEL,
    model_warnings,
    structure_warnings,
    tension_test_warnings,
)
from .formatting import count_noun, fmt, fmt_all, with_unit


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
    """A fraction as a percentage (:func:`araneus.report.formatting.fmt`, kind ``"percent"``)."""
    return fmt(x, "percent")


def _column(row: dict[str, Any]) -> str:
    return f"{row['model']}, {row['sampling']}" + (" *" if row["constraint"] else "")


def metrics_table(result) -> list[dict[str, str]]:
    """The report's model table, formatted for people: one row per figure, one column per
    model and way of sampling (the model-alone columns first), so that it fits the page."""
    runs = model_rows(result)

    def line(label: str, cell) -> dict[str, str]:
        return {"figure": label, **{_column(r): cell(r) for r in runs}}

    def pair(a: str, b: str):
        return lambda r: fmt_all([r[a], r[b]], "percent")

    def axes(key: str, kind: str | None = None, missing: str = "undefined"):
        return lambda r: fmt_all([r[key.format(a)] for a in "xyz"], kind, missing=missing)

    mmd = ("rel_edge_length", "degree", "orbit")
    return [
        line("parameters", lambda r: fmt(r["parameters"])),
        line("webs", lambda r: fmt(r["webs"])),
        line("valid", lambda r: _pct(r["valid"])),
        line("unique / novel (topology)", pair("unique topology", "novel topology")),
        line("unique / novel (geometry)", pair("unique geometry", "novel geometry")),
        line("decoder repairs", lambda r: _pct(r["decoder repair rate"])),
        line("pooled R²", lambda r: fmt(r["pooled R^2"], missing="undefined")),
        line("mean edge length error (median)",
             lambda r: _pct(r["median rel. error mean edge length"])),
        line("orientation share R², x / y / z", axes("R^2 orientation share {}")),
        line("orientation share error, x / y / z (median)",
             axes("median rel. error orientation share {}", "percent")),
        line("MMD ratio: rel. length / degree / orbit",
             lambda r: fmt_all([r[f"MMD {k} ratio"] for k in mmd], "ratio", missing="no ratio")),
        line("triangles per web (data)",
             lambda r: f"{fmt(r['triangles_per_web'])} ({fmt(r['triangles_per_web (data)'])})"),
        line("leaf share (data)",
             lambda r: f"{_pct(r['leaf_share'])} ({_pct(r['leaf_share (data)'])})"),
        line(with_unit("time per web", "ms"), lambda r: fmt(r["ms per web"])),
    ]  # fmt: skip


def achieved_rows(result) -> list[dict[str, Any]]:
    """Requested vs mean achieved features per condition and model (constrained sampling,
    the models' default; headers with units)."""
    rows = []
    for c, cond in enumerate(result.conditions):
        rows.append({"condition": c, "from": "requested",
                     **{FEATURE_LABELS[f]: cond[f] for f in FEATURE_NAMES}})  # fmt: skip
        for name, r in result.runs.items():
            sel = r.condition_index == c
            mean = r.achieved[sel].mean(axis=0)
            rows.append({"condition": c, "from": f"{name} (mean of {int(sel.sum())})",
                         **{FEATURE_LABELS[f]: float(v) for f, v in zip(FEATURE_NAMES, mean)}})  # fmt: skip
    return rows


def structure_rows(result) -> list[dict[str, Any]]:
    """Assembly and mesh figures per structure (units in the headers)."""
    rows = []
    for st in result.structures.values():
        a, m = st.assembly, st.mesh_summary
        rows.append({
            "structure": st.name,
            "pieces": a["pieces"],
            "nodes": st.web.n_nodes,
            "edges": st.web.n_edges,
            "stitches": a.get("stitches"),
            "bridges": a.get("bridges"),
            "STL watertight": m.get("watertight"),
            "triangles": m.get("triangles"),
            with_unit("volume", "mm³"): m.get("volume_mm3"),
            with_unit("size", "mm"): fmt_all(m.get("bbox_mm") or [], sep=" × "),
        })  # fmt: skip
    return rows


def tension_test_rows(result) -> list[dict[str, Any]]:
    """Virtual test figures per structure and material (units in the headers)."""
    rows = []
    for st in result.structures.values():
        for mat, t in st.tests.items():
            rows.append({
                "structure": st.name,
                "material": mat,
                "test": t.test,
                with_unit("stiffness", "N/mm"): t.stiffness,
                with_unit("peak force", "N"): t.peak_force,
                with_unit("energy", "mJ"): t.energy_to_failure,
                with_unit("energy per mass", "J/kg"): t.specific_energy,
                "broken members": int(t.broken.sum()),
                with_unit("pretension, median", "N"): (
                    None if t.prestress is None else t.prestress.level),
                with_unit("prestress moved nodes, max", "mm"): (
                    None if t.prestress is None else float(t.prestress.moved.max(initial=0.0))),
                "end": t.end,
            })  # fmt: skip
    return rows


# ---------------------------------------------------------------------------- writing
def _write_webs(result, out: Path) -> dict[str, Path]:
    from ..io import write_web

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
    from ..fabrication import export_mesh

    files: dict[str, Path] = {}
    for st in result.structures.values():
        files[f"{st.name}_stl"] = export_mesh(st.mesh, out / "meshes" / f"{st.name}.stl")
        for mat, t in st.tests.items():
            folder = out / "mechanics" / f"{st.name}_{mat}"
            for p in t.save(st.web, folder):
                files[f"{st.name}_{mat}_{p.stem}"] = p
    return files


def _write_figures(result, out: Path) -> dict[str, Path]:
    from .figures import write_analysis_figures
    from .plot import plot_web

    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    files = {"source_png": fig_dir / "source_web.png"}
    src = result.source
    plot_web(src, files["source_png"], title=f"source tent web: {count_noun(src.n_nodes, 'node')}")
    for k, p in write_analysis_figures(src, fig_dir / "source", title="source").items():
        files[f"source_{k}"] = p
    for name, run in result.runs.items():
        files[f"samples_{name}"] = fig_dir / f"samples_{name}.png"
        plot_web(sample_grid(run.webs[:8]), files[f"samples_{name}"], title=f"{name}: samples")
    for st in result.structures.values():
        files[f"{st.name}_png"] = fig_dir / f"{st.name}.png"
        title = f"{st.name}: {count_noun(st.web.n_nodes, 'node')}"
        plot_web(st.web, files[f"{st.name}_png"], title=title)
    files["feature_histograms"] = fig_dir / "feature_histograms.png"
    feature_histograms_png(result.dataset, result.runs, files["feature_histograms"])
    files["requested_vs_achieved"] = fig_dir / "requested_vs_achieved.png"
    requested_achieved_png(result.runs, files["requested_vs_achieved"])
    return files


def _write_design(result, out: Path) -> dict[str, Path]:
    """Stage 7's folder ``design/`` (:func:`araneus.design.output.write_design`)."""
    from ..design.output import write_design

    if result.design is None:
        return {}
    paths = write_design(result.design, out / "design", page=2)
    return {f"design_{k}": p for k, p in paths.items() if k in ("csv", "json", "html")}


def design_rows(result) -> list[dict[str, Any]]:
    """Requested vs achieved of the best designs of stage 7 (best first)."""
    res = result.design
    if res is None:
        return []
    rows = []
    for r, i in enumerate(res.order[:4]):
        c = res.candidates[int(i)]
        for t, v in res.targets.items():
            rows.append({"rank": r + 1, "target": t, "requested": v, "achieved":
                         res.achieved(int(i))[t], "relative error":
                         _pct(res.relative_errors(int(i))[t]), "round": c.round + 1,
                         "from": c.how, "nodes": c.web.n_nodes})  # fmt: skip
    return rows


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
        "design": design_rows(result),
        **result.summary,
    }


def settings_for_people(result, summary: dict[str, Any]) -> dict[str, Any]:
    """The run's settings as the report shows them (what each default means, in words;
    ``summary.json`` keeps the raw values)."""
    cfg, sz = result.config, result.config.sizes
    used = {st.assembly.get("model") for st in result.structures.values()} - {None}
    how = "set" if cfg.assembly_model is not None else "chosen: best in stage 4"
    source = "default tent web"
    if sz.source:
        source = "tent web with " + fmt(list(sz.source))
    return {
        "run": {
            "kind": "quick" if cfg.quick else "full",
            "seed": cfg.seed,
            "models": list(cfg.models),
            "guidance": cfg.guidance,
            "model of the assemblies": f"{fmt(sorted(used))} ({how})" if used else None,
            "torch threads": "torch's default" if cfg.threads is None else cfg.threads,
            "weights": summary.get("weights"),
            "output folder": cfg.out,
        },
        "sizes": {
            "source web": source,
            "dataset samples": sz.n_dataset,
            "requested conditions": sz.n_conditions,
            "webs per condition and model": sz.samples_per_condition,
            "helix pieces": sz.helix_pieces,
            "Lorenz pieces": sz.lorenz_pieces,
            "test steps": sz.test_steps,
            "facets around a strut": sz.mesh_segments,
        },
        with_unit("time per stage", "s"): dict(summary.get("timings_s", {})),
    }


def build_report(result, summary: dict[str, Any]):
    """The :class:`~araneus.report.Report` of a demo run (sections in story order)."""
    from .page import Report

    rep = Report("araneus demo: from a tent web to printed, tested structures")
    src = result.source
    rep.text(
        "Every number and figure below was produced by one call of `araneus demo` "
        f"(seed {result.config.seed}, {'quick' if result.config.quick else 'full'} run)."
    )
    rep.heading("1. Source web")
    feats = conditioning_features(src)
    rep.table([{"nodes": src.n_nodes, "edges": src.n_edges,
                **{FEATURE_LABELS[f]: v for f, v in feats.items() if f in FEATURE_LABELS
                   and f not in ("num_nodes", "num_edges")}}],
              title="Source web statistics")  # fmt: skip
    rep.web(src, title="Cyrtophora tent web (coloured by thread type)")
    rep.heading("2. Dataset")
    rep.text(f"{fmt(len(result.dataset))} random-walk samples of 16-64 nodes cut out of the "
             "source web; train / validation / test: "
             f"{fmt_all(summary['dataset']['splits'])} samples.")  # fmt: skip
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
    rep.table(metrics_table(result), title="Model figures (model alone first; * constrained)")
    rep.table(achieved_rows(result),
              title="Requested vs achieved (constrained sampling, mean of the samples)")  # fmt: skip
    rep.figure(scatter_figure(result.runs), "Requested vs achieved")
    for name, run in result.runs.items():
        rep.web(sample_grid(run.webs[:8]), title=f"Generated samples: {name}",
                warnings=model_warnings(run))  # fmt: skip
    rep.heading("5-6. Assemblies, meshes and virtual tension tests")
    sched = summary.get("assembly_schedule", {})
    grade = sched.get("mean_edge_length")
    if isinstance(grade, (list, tuple)) and len(grade) == 2:
        grade = f"{fmt(grade[0])} mm at the base to {fmt(grade[1])} mm at the top"
    else:
        grade = f"{fmt(grade)} mm"
    rep.text(f"Pieces generated one per placement; mean edge length graded from {grade}.")
    rep.table(structure_rows(result), title="Structures")
    rep.table(tension_test_rows(result), title="Virtual tension tests")
    for st in result.structures.values():
        rep.web(st.web, title=f"{st.name} (thread type; 'stitch' joins pieces)",
                warnings=structure_warnings(st))  # fmt: skip
        silk = st.tests.get("silk")
        if silk is not None:
            stress = np.minimum(np.nan_to_num(silk.member_stress, nan=0.0), silk.failure_stress)
            rep.web(st.web, title=f"{st.name}: silk member stress at peak (clipped at the "
                    f"failure stress, {fmt(silk.failure_stress)} MPa)",
                    values=stress, value_label="stress [MPa]")  # fmt: skip
    rep.warnings(tension_test_warnings(result.structures), "virtual tension tests")
    rep.figure(curves_figure(result.structures), "Force-displacement curves")
    if result.design is not None:
        res = result.design
        rep.heading("7. Design for mechanics")
        rep.text(f"Requested: {', '.join(f'{k} = {v:.4g} N/mm/g' for k, v in res.targets.items())}"
                 f" (silk, a held-out sample's value). {len(res.candidates)} candidates from "
                 f"{res.model} in {len(res.rounds)} rounds, each verified by the finite-element "
                 f"descriptors; {res.seconds:.1f} s. " + " ".join(res.notes) + " The first "
                 "candidate is the model alone; the best is after selection. Full page with "
                 "force-displacement curves: design/designs.html.")  # fmt: skip
        rep.table([{"": "model alone (first candidate)", "worst relative error":
                    _pct(res.error(0))}, {"": "after selection (best)",
                    "worst relative error": _pct(res.error(int(res.order[0])))}],
                  title="Design error")  # fmt: skip
        rep.table(design_rows(result), title="Best designs")
        best = res.best(1)[0].web
        rep.web(best, title=f"best design: {best.n_nodes} nodes")
    rep.heading("Settings")
    rep.settings(settings_for_people(result, summary), title="Settings used")
    return rep


def write_outputs(result, out: str | Path) -> dict[str, Path]:
    """Write the whole output folder of a demo run; returns (and stores) the file map."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = _write_webs(result, out)
    files |= _write_meshes_and_tests(result, out)
    files |= _write_figures(result, out)
    files |= _write_design(result, out)
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
