"""Benchmark of the generative models: honest quality figures, guidance, speed and size.

For every registered model (shipped weights in ``src/araneus/weights`` if they match the
dataset, else a short training run of ``--train-minutes``, which is NOT representative of
quality) it prints, on ``--n-eval`` held-out test conditions (a seeded random draw) and as
means over ``--seeds`` sampling seeds (per-seed values in brackets):

* three ways of sampling, in this order: the **model alone, unguided** (``exact=False``,
  ``feature_guidance=0``); the **model alone with feature guidance** (``exact=False`` and
  the model's default guidance: the diffusion samplers move each step's clean estimate
  toward the requested edge-mean features, the autoregressive sampler picks among several
  draws of its own position mixture; see docs/models.md); **constrained** (``exact=True``:
  node and edge counts and the mean edge length set exactly, each web rotated rigidly
  toward the requested orientation): validity; uniqueness / novelty up to isomorphism (V.U.N. as in
  DiGress, Vignac et al. ICLR 2023) and on geometry (within 5% of the mean edge length);
  the decoder's repair rate; per feature R^2 (undefined where the requested values do not
  vary) beside the median relative error; R^2 and error of the orientation shares
  (mean |d*| / mean edge length); MMD^2 ratios to the train-vs-test MMD^2 (the length one
  on lengths relative to each web's mean first; no ratio where the baseline is ~0);
  triangles per web and leaf share against the data's;
* the issue-20 targets for the model alone, unguided and with feature guidance, each
  marked met or not;
* what a perfect model would score: another training draw in place of generated webs (the
  train-vs-test MMD^2 of one draw of 64 webs moves several-fold between draws, so the
  baseline is the mean of ``--baseline-draws`` draws; triangles are rare in the data, so
  their rate moves several-fold between draws too);
* diversity among 100 samples of one condition, a classifier-free guidance sweep (model
  alone), sampling speed at batch 16 (unguided and with feature guidance) and weight size;
* at the end, one markdown table of all models with every figure of the README's model
  table (training, size, speed, and per way of sampling the quality figures).

Usage (a short check: ``--n-eval 8 --seeds 1 --repeats 1 --steps 12 --guidance 1``)::

    .venv/bin/python benchmarks/bench_models.py --threads 1 [--models sparse discrete]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "araneus" / "weights"
CONSTRAINED = ("constrained (exact=True: node and edge counts and mean edge length set "
               "exactly; each web rotated rigidly toward the requested orientation; feature "
               "guidance as the model's default)")  # fmt: skip
ALONE = "model alone, unguided (exact=False, feature_guidance=0)"
GUIDED = ("model alone with feature guidance (exact=False; the sampler steers each step's "
          "clean estimate, or picks among the model's own draws, toward the requested "
          "edge-mean features)")  # fmt: skip
#: MMD statistics in print order (the relative length one is the headline length figure)
STATS = ("rel_edge_length", "degree", "orbit", "edge_length", "clustering", "orientation")


def _model(name, data, minutes, weights=WEIGHTS):
    from araneus.models import get_model, load_model
    from araneus.models.train import TrainConfig

    w = Path(weights) / f"{name}.safetensors"
    if w.is_file():
        m = load_model(w)
        if m.max_nodes == data.L and m.max_degree == data.K:
            return m, f"shipped weights ({m.train_info.get('step', '?')} steps)"
    m = get_model(name)()
    res = m.fit(data, TrainConfig(steps=100000, max_minutes=minutes, progress=False))
    return (
        m,
        f"quick training: {res.steps} steps in {res.seconds:.0f} s (quality not representative)",
    )


@contextlib.contextmanager
def _alone(model, guided: bool = False):
    """Sample the model alone (``exact=False``) inside the block, then restore; without
    ``guided`` also without feature guidance (``feature_guidance=0``)."""
    before = model.config
    kw = {"exact": False} if hasattr(before, "exact") else {}
    if not guided and hasattr(before, "feature_guidance"):
        kw["feature_guidance"] = 0.0
    model.config = dataclasses.replace(before, **kw)
    try:
        yield
    finally:
        model.config = before


def _has_guidance(model) -> bool:
    return getattr(model.config, "feature_guidance", 0.0) > 0


def _cond_error(model, webs, conds) -> float:
    from araneus.features import FEATURE_NAMES, features_table

    # the geometric features requested (a model may also know mechanical descriptors)
    names = [n for n in FEATURE_NAMES if n in conds[0]]
    scaler = list(model.scaler.names)
    idx = [scaler.index(n) for n in names]
    req = np.array([[c[n] for n in names] for c in conds])
    lo, hi = model.scaler.lo[idx], model.scaler.hi[idx]
    span = np.where(hi > lo, hi - lo, 1.0)
    got = features_table(webs)[:, [FEATURE_NAMES.index(n) for n in names]]
    return float(np.mean(np.abs(got - req) / span))


def _flat(rep: dict) -> dict[str, float | None]:
    """The scalars of one evaluate() report that the tables need."""
    from araneus.features import FEATURE_NAMES

    v, fid, rep_ = rep["vun"], rep["fidelity"], rep["repair"] or {}
    out = {k: v[k] for k in ("valid", "unique_topology", "novel_topology", "vun",
                             "unique_geometry", "novel_geometry")}  # fmt: skip
    out["pooled_r2"] = fid["pooled_r2"]
    out["repair"] = rep_.get("repair_rate")
    out["bridged"] = rep_.get("bridge_samples", 0) / max(rep_.get("samples", 1), 1)
    for f in FEATURE_NAMES:
        d = fid["per_feature"][f]
        out[f"r2 {f}"], out[f"rel {f}"] = d["r2"], d["median_rel_err"]
    for a in "xyz":
        d = fid["orientation_shares"]["per_feature"][f"share_{a}"]
        out[f"r2 share_{a}"], out[f"rel share_{a}"] = d["r2"], d["median_rel_err"]
    out.update({f"mmd {k}": rep["mmd"][k] for k in STATS})
    out.update(rep["structure"]["generated"])
    return out


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows]
    return None if any(x is None for x in vals) else float(np.mean(vals))


def _fmt(x: float | None, kind: str = "f") -> str:
    if x is None:
        return "undefined"
    return {"f": f"{x:.3f}", "%": f"{100 * x:.1f}%", "x": f"{x:.2f}x"}[kind]


def _seeds(rows: list[dict], key: str, kind: str = "f") -> str:
    return "" if len(rows) < 2 else " [" + ", ".join(_fmt(r[key], kind) for r in rows) + "]"


def _ratio(rows, base, k) -> tuple[float | None, str]:
    """Mean generated MMD^2 over the mean baseline (guarded), with the per-seed ratios."""
    from araneus.metrics import mmd_ratio

    r = mmd_ratio(_mean(rows, f"mmd {k}"), base[k])["ratio"]
    per = [mmd_ratio(x[f"mmd {k}"], base[k])["ratio"] for x in rows]
    seeds = "" if len(rows) < 2 else " [" + ", ".join(_fmt(p, "x") for p in per) + "]"
    return r, seeds


def _print_block(title: str, rows: list[dict], base: dict, data_struct: dict) -> dict:
    """Print one way of sampling (means over seeds); returns the figures the targets need."""
    from araneus.features import FEATURE_NAMES

    m = lambda k: _mean(rows, k)  # noqa: E731
    print(f"  -- {title}, mean over {len(rows)} sampling seed(s)")
    print("     validity " + _fmt(m("valid"), "%") + "; topology (up to isomorphism): unique "
          + _fmt(m("unique_topology"), "%") + ", novel " + _fmt(m("novel_topology"), "%")
          + ", V.U.N. " + _fmt(m("vun"), "%") + "; geometry: unique "
          + _fmt(m("unique_geometry"), "%") + ", novel " + _fmt(m("novel_geometry"), "%"))  # fmt: skip
    print(f"     decoder repair rate {_fmt(m('repair'), '%')}{_seeds(rows, 'repair', '%')}"
          f" (of which joined by the sampler: {_fmt(m('bridged'), '%')})")  # fmt: skip
    print(f"     pooled R^2 {_fmt(m('pooled_r2'))}{_seeds(rows, 'pooled_r2')}")
    print(f"     {'feature':<18}{'R^2':>10}{'median rel. error':>19}   (num_nodes: a requested "
          "node count is given to every model, alone or not)")  # fmt: skip
    for f in [*FEATURE_NAMES, "share_x", "share_y", "share_z"]:
        print(f"     {f:<18}{_fmt(m(f'r2 {f}')):>10}{_fmt(m(f'rel {f}'), '%'):>19}"
              f"{_seeds(rows, f'r2 {f}')}")  # fmt: skip
    ratios = {}
    for k in STATS:
        ratios[k], per = _ratio(rows, base, k)
        print(f"     MMD {k:<16} {m(f'mmd {k}'):.4g} = {_fmt(ratios[k], 'x')} train-vs-test{per}")
    struct = {}
    for k in ("triangles_per_web", "webs_with_triangle", "leaf_share"):
        g, d = m(k), data_struct[k]
        struct[k] = None if not d else g / d
        print(f"     {k:<19}{g:8.3f}  (data {d:.3f}; ratio {_fmt(struct[k], 'x')})")
    return {"m": m, "ratios": ratios, "struct": struct}


def _targets(fig: dict, label: str = "model alone") -> None:
    """Issue-20 targets for the model alone, each marked met or not."""
    m, ratios, struct = fig["m"], fig["ratios"], fig["struct"]
    ok = lambda c: "met" if c else "NOT met"  # noqa: E731
    share = [m(f"r2 share_{a}") for a in "xyz"]
    le = lambda x, lim: x is not None and x <= lim  # noqa: E731
    within = lambda r: r is not None and 1 / 1.5 <= r <= 1.5  # noqa: E731
    rel = lambda k: m(f"rel {k}")  # noqa: E731
    checks = [
        ("orientation-share R^2 >= 0.8", all(s is not None and s >= 0.8 for s in share),
         " / ".join(_fmt(s) for s in share)),
        ("median rel. error of mean edge length <= 10%", le(rel("mean_edge_length"), 0.10),
         _fmt(rel("mean_edge_length"), "%")),
        ("node and edge counts within 5% (median)",
         le(rel("num_nodes"), 0.05) and le(rel("num_edges"), 0.05),
         f"{_fmt(rel('num_nodes'), '%')} / {_fmt(rel('num_edges'), '%')}"),
        ("relative-length MMD <= 2x", le(ratios["rel_edge_length"], 2),
         _fmt(ratios["rel_edge_length"], "x")),
        ("degree / orbit MMD <= 1.5x", le(ratios["degree"], 1.5) and le(ratios["orbit"], 1.5),
         f"{_fmt(ratios['degree'], 'x')} / {_fmt(ratios['orbit'], 'x')}"),
        ("triangle rate and leaf share within 1.5x of the data's",
         within(struct["triangles_per_web"]) and within(struct["leaf_share"]),
         f"{_fmt(struct['triangles_per_web'], 'x')} / {_fmt(struct['leaf_share'], 'x')}"),
        ("decoder repair rate <= 10%", le(m("repair"), 0.10), _fmt(m("repair"), "%")),
    ]  # fmt: skip
    print(f"  -- issue-20 targets, {label}:")
    for name, good, value in checks:
        print(f"     {ok(good):>8}  {name}: {value}")


def _evaluate_mode(model, conds, seeds, ev) -> list[dict]:
    """Sample every seed in the current mode and return the flat figures per seed."""
    rows = []
    for s in range(seeds):
        webs = model.sample(conds, len(conds), seed=s, guidance=1.0)
        rep = ev(webs, model.last_decode_stats)
        rows.append(_flat(rep))
    return rows


def _baseline(train, test_webs, n, draws, extra: int = 5):
    """Mean train-vs-test MMD^2 over ``draws`` seeded training draws of n webs, and what
    ``extra`` more draws (an unconditional perfect model) score against it."""
    from araneus.metrics import distribution_mmd

    runs = []
    for d in range(draws + extra):
        rng = np.random.default_rng(100 + d)
        runs.append(distribution_mmd(train.to_webs(rng.choice(len(train), n, replace=False)),
                                     test_webs))  # fmt: skip
    base = {k: float(np.mean([r[k] for r in runs[:draws]])) for k in STATS}
    print(f"train-vs-test MMD^2, mean of {draws} draws of {n} training webs (min-max):")
    for k in STATS:
        vals = [r[k] for r in runs[:draws]]
        print(f"  {k:<16} {base[k]:.4g} ({min(vals):.3g}-{max(vals):.3g})")
    perfect = ", ".join(
        f"{k} {np.median([r[k] for r in runs[draws:]]) / base[k]:.2f}x "
        f"({min(r[k] for r in runs[draws:]) / base[k]:.2f}-"
        f"{max(r[k] for r in runs[draws:]) / base[k]:.2f})"
        for k in STATS if base[k] > 0)  # fmt: skip
    print(f"an unconditional perfect model ({extra} more training draws; median, min-max) "
          f"scores: {perfect}")  # fmt: skip
    return base


def _retrieval(data, pick, test_webs, base) -> None:
    """A conditional reference: for each test condition the training sample nearest to it
    in normalised features (what a model that returned training webs would score)."""
    from araneus.metrics import distribution_mmd, structure_summary

    z = data.normaliser.transform_features(data.features)
    ztr, zte = z[data.split == 0], z[data.split == 2][pick]
    nearest = ((zte[:, None] - ztr[None]) ** 2).sum(-1).argmin(1)
    webs = data.subset("train").to_webs(nearest)
    mmd, st = distribution_mmd(webs, test_webs), structure_summary(webs)
    print("the nearest training sample of each test condition scores: "
          + ", ".join(f"{k} {mmd[k] / base[k]:.2f}x" for k in STATS if base[k] > 0)
          + f"; triangles per web {st['triangles_per_web']:.3f}, leaf share "
          f"{st['leaf_share']:.3f}")  # fmt: skip


def _diversity(model, cond, train_webs) -> None:
    from araneus.metrics import vun

    with _alone(model):
        one = vun(model.sample(cond, 100, seed=2), train_webs)
    print(f"  diversity, model alone, 100 samples of one condition: unique topology "
          f"{_fmt(one['unique_topology'], '%')}, geometry {_fmt(one['unique_geometry'], '%')}"
          " (target >= 95%)")  # fmt: skip


def _time(model, cond, steps, repeats) -> float:
    """graphs/s of one batch of 16 (median of ``repeats``)."""
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        model.sample(cond, 16, seed=r, steps=steps)
        times.append(time.perf_counter() - t0)
    return 16 / statistics.median(times)


def _speed(model, data, conds, train, args) -> str:
    """Print graphs/s at batch 16 (a step sweep on median-sized webs, then 64-node webs at
    the default steps, unguided and with feature guidance); returns the 64-node figures."""
    med_nodes = float(np.median(train.mask.sum(1)))
    default_steps = getattr(model.config, "sample_steps", None)
    # a model without sampling steps (autoregressive: one pass per node) is timed once
    sweep = [int(s) for s in args.steps.split(",")] if default_steps else [None]
    for st in sweep:
        with _alone(model, guided=False):
            rate = _time(model, {"num_nodes": med_nodes}, st, args.repeats)
        print(f"  speed: {f'{st:3d} steps' if st else 'no steps'}, batch 16 of {med_nodes:g} "
              f"nodes, unguided: {rate:7.1f} graphs/s (median of {args.repeats})")  # fmt: skip
    geo = ("mean_edge_length", "mean_abs_dx", "mean_abs_dy", "mean_abs_dz")
    full = [{**{k: conds[i % len(conds)][k] for k in geo}, "num_nodes": float(data.L)}
            for i in range(16)]  # fmt: skip
    out = []
    for label, guided in (("unguided", False), ("feature guidance", True)):
        if guided and not _has_guidance(model):
            continue
        with _alone(model, guided=guided):
            rate = _time(model, full, None, args.repeats)
        print(f"  speed: default steps ({default_steps or 'none'}), batch 16 of {data.L} nodes, "
              f"length and orientation requested, {label}: {rate:7.1f} graphs/s")  # fmt: skip
        out.append(f"{rate:.1f} ({label})")
    return ", ".join(out)


def _args():
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data",
        default=None,
        help="dataset .npz (default: default_dataset(4000, seed=0), the training set)",
    )
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--n-eval", type=int, default=64)
    ap.add_argument("--train-minutes", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", default="5,10,20,40")
    ap.add_argument("--guidance", default="0,1,2,3")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--weights", default=str(WEIGHTS), help="folder of <model>.safetensors")
    ap.add_argument("--seeds", type=int, default=3, help="sampling seeds for the mean figures")
    ap.add_argument("--baseline-draws", type=int, default=20, help="training draws of the baseline")
    ap.add_argument("--no-diversity", action="store_true", help="skip the 100-sample check")
    return ap.parse_args()


def _structure_baseline(train, data_struct: dict, n: int) -> None:
    """What a perfect model scores on triangles and leaves: one training draw of n webs."""
    from araneus.metrics import structure_summary

    rng = np.random.default_rng(99)
    got = structure_summary(train.to_webs(rng.choice(len(train), n, replace=False)))
    print("a perfect model (a training draw of the same size) scores: " + ", ".join(
        f"{k} {got[k]:.3f} ({_fmt(got[k] / data_struct[k] if data_struct[k] else None, 'x')})"
        for k in ("triangles_per_web", "webs_with_triangle", "leaf_share")))  # fmt: skip


def _summary_rows(fig: dict) -> dict[str, str]:
    """The figures of one way of sampling that the README's model table lists."""
    m, r, st = fig["m"], fig["ratios"], fig["struct"]
    f3 = lambda k: " / ".join(_fmt(m(f"r2 share_{a}")) for a in "xyz") if k else ""  # noqa: E731
    return {
        "repair rate": _fmt(m("repair"), "%"),
        "R^2 orientation shares x / y / z": f3(True),
        "median rel. error length / nodes / edges": " / ".join(
            _fmt(m(f"rel {k}"), "%") for k in ("mean_edge_length", "num_nodes", "num_edges")),
        "R^2 length / |dx| / |dy| / |dz|": " / ".join(
            _fmt(m(f"r2 {k}")) for k in ("mean_edge_length", "mean_abs_dx", "mean_abs_dy",
                                          "mean_abs_dz")),
        "MMD rel. length / degree / orbit (x train-test)": " / ".join(
            _fmt(r[k], "x") for k in ("rel_edge_length", "degree", "orbit")),
        "triangles / leaves (x data)": " / ".join(
            _fmt(st[k], "x") for k in ("triangles_per_web", "leaf_share")),
        "validity / V.U.N. (topology)": f"{_fmt(m('valid'), '%')} / {_fmt(m('vun'), '%')}",
    }  # fmt: skip


def _print_summary(table: dict[str, dict[str, dict[str, str]]], extra: dict) -> None:
    """One markdown table of every model's figures (means over sampling seeds)."""
    names = list(table)
    print("\n=== summary for the README model table (means over sampling seeds)")
    print("| | " + " | ".join(f"`{n}`" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for key in ("training", "parameters / weights", "speed"):
        print(f"| {key} | " + " | ".join(extra[n].get(key, "") for n in names) + " |")
    modes = [("alone", "*alone, unguided*"), ("guided", "*alone, feature guidance*"),
             ("constrained", "constrained")]  # fmt: skip
    rows = next(iter(next(iter(table.values())).values())).keys()
    for row in rows:
        for mode, label in modes:
            cells = [table[n].get(mode, {}).get(row, "") for n in names]
            if any(cells):
                print(f"| {label}: {row} | " + " | ".join(cells) + " |")
    print("| guidance sweep, model alone (g = " + ", ".join(extra[names[0]]["g"]) + ") | "
          + " | ".join(extra[n]["sweep"] for n in names) + " |")  # fmt: skip


def main() -> None:
    from araneus.metrics import evaluate, structure_summary
    from araneus.models import available_models

    args = _args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.data:
        from araneus.dataset import WebDataset

        data = WebDataset.load(args.data)
    else:
        from araneus.dataset import default_dataset

        data = default_dataset(4000, seed=0)  # what scripts/train_default.py trains on
    train, test = data.subset("train"), data.subset("test")
    n = min(args.n_eval, len(test))
    # a seeded random draw: the test split is stored grouped by source web, so its first
    # rows would all come from one family
    pick = np.sort(np.random.default_rng(0).choice(len(test), size=n, replace=False))
    test_webs, train_webs = test.to_webs(pick), train.to_webs()
    print(f"dataset: {len(data)} samples, L={data.L}, K={data.K}; {n} test conditions; "
          f"novelty against all {len(train_webs)} training webs")  # fmt: skip
    base = _baseline(train, test_webs, n, args.baseline_draws)
    _retrieval(data, pick, test_webs, base)
    data_struct = structure_summary(test.to_webs())
    print("data (whole test split): " + ", ".join(f"{k} {v:.3f}" for k, v in data_struct.items()))
    _structure_baseline(train, data_struct, n)
    conds = [dict(zip(test.feature_names, map(float, f))) for f in test.features[pick]]
    table: dict = {}
    extra: dict = {}
    for name in args.models or available_models():
        model, how = _model(name, data, args.train_minutes, args.weights)
        print(f"\n=== model {name}: {how}")
        table[name] = {}
        extra[name] = {"training": _training(model, how)}

        def ev(webs, stats, k=model.max_degree):
            return evaluate(webs, test_webs, train=train_webs, K=k, decode_stats=stats)

        with _alone(model):
            fig = _print_block(ALONE, _evaluate_mode(model, conds, args.seeds, ev), base,
                               data_struct)  # fmt: skip
        _targets(fig, "model alone, unguided")
        table[name]["alone"] = _summary_rows(fig)
        if _has_guidance(model):
            with _alone(model, guided=True):
                fig = _print_block(GUIDED, _evaluate_mode(model, conds, args.seeds, ev), base,
                                   data_struct)  # fmt: skip
            _targets(fig, "model alone with feature guidance")
            table[name]["guided"] = _summary_rows(fig)
        if getattr(model.config, "exact", False):
            fig = _print_block(CONSTRAINED, _evaluate_mode(model, conds, args.seeds, ev), base,
                               data_struct)  # fmt: skip
            table[name]["constrained"] = _summary_rows(fig)
        if not args.no_diversity:
            _diversity(model, conds[0], train_webs)
        sweep = [float(g) for g in args.guidance.split(",")]
        m = min(n, 32)
        with _alone(model, guided=True):  # guidance acts on the model: sweep it alone
            errs = [
                _cond_error(model, model.sample(conds[:m], m, seed=1, guidance=g), conds[:m])
                for g in sweep
            ]
        print("  classifier-free guidance sweep, model alone (mean normalised |achieved - "
              "requested|): " + ", ".join(f"g={g:g}: {e:.4f}" for g, e in zip(sweep, errs)))  # fmt: skip
        best = int(np.argmin(errs))
        extra[name]["g"] = [f"{g:g}" for g in sweep]
        extra[name]["sweep"] = ", ".join(
            f"**{e:.3f}**" if i == best else f"{e:.3f}" for i, e in enumerate(errs))  # fmt: skip
        extra[name]["speed"] = _speed(model, data, conds, train, args)
        size = sum(v.numel() * v.element_size() for v in model.weights().values()) / 1e6
        nparam = sum(p.numel() for p in model.net.parameters())
        print(f"  weights: {size:.2f} MB, {nparam / 1e6:.2f} M parameters (target <= 10 MB)")
        extra[name]["parameters / weights"] = f"{nparam / 1e6:.2f} M / {size:.1f} MB"
    _print_summary(table, extra)


def _training(model, how: str) -> str:
    """Steps, time and machine of the weights' training (from the checkpoint's JSON)."""
    if not how.startswith("shipped"):
        return how
    info = model.train_info or {}
    rec = info.get("recipe") or {}
    out = f"{info.get('step', '?')} steps"
    if rec:
        out += (f", {rec.get('cpu_minutes')} CPU min ({rec.get('wall_minutes')} min wall) on "
                f"{rec.get('trained_on')}")  # fmt: skip
    return out


if __name__ == "__main__":
    main()
