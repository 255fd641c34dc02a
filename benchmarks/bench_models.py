"""Benchmark of the generative models: honest quality figures, guidance, speed and size.

For every registered model (shipped weights in ``src/araneus/weights`` if they match the
dataset, else a short training run of ``--train-minutes``, which is NOT representative of
quality) it prints, on ``--n-eval`` held-out test conditions (a seeded random draw) and as
means over ``--seeds`` sampling seeds (per-seed values in brackets):

* **model alone** (``exact=False``) first, then **constrained** (``exact=True``: node and
  edge counts and the mean edge length set exactly, each web rotated rigidly toward the
  requested orientation): validity; uniqueness / novelty up to isomorphism (V.U.N. as in
  DiGress, Vignac et al. ICLR 2023) and on geometry (within 5% of the mean edge length);
  the decoder's repair rate; per feature R^2 (undefined where the requested values do not
  vary) beside the median relative error; R^2 and error of the orientation shares
  (mean |d*| / mean edge length); MMD^2 ratios to the train-vs-test MMD^2 (the length one
  on lengths relative to each web's mean first; no ratio where the baseline is ~0);
  triangles per web and leaf share against the data's;
* the issue-20 targets for the model alone, each marked met or not;
* what a perfect model would score: another training draw in place of generated webs (the
  train-vs-test MMD^2 of one draw of 64 webs moves several-fold between draws, so the
  baseline is the mean of ``--baseline-draws`` draws);
* diversity among 100 samples of one condition, a guidance sweep (model alone), sampling
  speed at batch 16 and weight size.

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
               "exactly; each web rotated rigidly toward the requested orientation)")  # fmt: skip
ALONE = "model alone (exact=False)"
#: MMD statistics in print order (the relative length one is the headline length figure)
STATS = ("rel_edge_length", "degree", "orbit", "edge_length", "clustering", "orientation")


def _model(name, data, minutes, weights=WEIGHTS):
    from araneus.models import get_model, load_model
    from araneus.train import TrainConfig

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
def _alone(model):
    """Sample the model alone (``exact=False``) inside the block, then restore."""
    before = model.config
    if hasattr(before, "exact"):
        model.config = dataclasses.replace(before, exact=False)
    try:
        yield
    finally:
        model.config = before


def _cond_error(model, webs, conds) -> float:
    from araneus.features import features_table

    names = list(model.scaler.names)
    req = np.array([[c[n] for n in names] for c in conds])
    span = np.where(model.scaler.hi > model.scaler.lo, model.scaler.hi - model.scaler.lo, 1.0)
    return float(np.mean(np.abs(features_table(webs) - req) / span))


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


def _targets(fig: dict) -> None:
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
    print("  -- issue-20 targets, model alone:")
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


def _baseline(train, test_webs, n, draws):
    """Mean train-vs-test MMD^2 over ``draws`` seeded training draws of n webs, and what
    one more draw (a perfect model) scores against it."""
    from araneus.metrics import distribution_mmd

    runs = []
    for d in range(draws + 1):
        rng = np.random.default_rng(100 + d)
        runs.append(distribution_mmd(train.to_webs(rng.choice(len(train), n, replace=False)),
                                     test_webs))  # fmt: skip
    base = {k: float(np.mean([r[k] for r in runs[:draws]])) for k in STATS}
    print(f"train-vs-test MMD^2, mean of {draws} draws of {n} training webs (min-max):")
    for k in STATS:
        vals = [r[k] for r in runs[:draws]]
        print(f"  {k:<16} {base[k]:.4g} ({min(vals):.3g}-{max(vals):.3g})")
    perfect = ", ".join(f"{k} {runs[-1][k] / base[k]:.2f}x" for k in STATS if base[k] > 0)
    print(f"a perfect model (one more training draw) scores: {perfect}")
    return base


def _diversity(model, cond, train_webs) -> None:
    from araneus.metrics import vun

    with _alone(model):
        one = vun(model.sample(cond, 100, seed=2), train_webs)
    print(f"  diversity, model alone, 100 samples of one condition: unique topology "
          f"{_fmt(one['unique_topology'], '%')}, geometry {_fmt(one['unique_geometry'], '%')}"
          " (target >= 95%)")  # fmt: skip


def _speed(model, data, conds, train, args) -> None:
    med_nodes = float(np.median(train.mask.sum(1)))
    default_steps = getattr(model.config, "sample_steps", None)
    # a model without sampling steps (autoregressive: one pass per node) is timed once
    runs = (
        [(int(s), med_nodes) for s in args.steps.split(",")] if default_steps else [(0, med_nodes)]
    )
    runs += [(default_steps, float(data.L))] if default_steps else []
    geo = ("mean_edge_length", "mean_abs_dx", "mean_abs_dy", "mean_abs_dz")
    full = [{**{k: conds[i % len(conds)][k] for k in geo}, "num_nodes": float(data.L)}
            for i in range(16)]  # fmt: skip
    runs += [(default_steps, full)] if default_steps else []
    for st, nodes in runs:
        times = []
        cond = nodes if isinstance(nodes, list) else {"num_nodes": nodes}
        for r in range(args.repeats):
            t0 = time.perf_counter()
            model.sample(cond, 16, seed=r, steps=st or None)
            times.append(time.perf_counter() - t0)
        what = (f"of {data.L} nodes, length and orientation requested" if isinstance(nodes, list)
                else f"of {nodes:g} nodes")  # fmt: skip
        print(
            f"  speed: {f'{st:3d} steps' if st else 'no steps'}, batch 16 {what}: "
            f"{16 / statistics.median(times):7.1f} graphs/s (median of {args.repeats})"
        )


def _args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="dataset .npz (default: default_dataset(2000))")
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--n-eval", type=int, default=64)
    ap.add_argument("--train-minutes", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", default="5,10,20,40")
    ap.add_argument("--guidance", default="0,1,2,3")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--weights", default=str(WEIGHTS), help="folder of <model>.safetensors")
    ap.add_argument("--seeds", type=int, default=3, help="sampling seeds for the mean figures")
    ap.add_argument("--baseline-draws", type=int, default=5, help="training draws of the baseline")
    ap.add_argument("--no-diversity", action="store_true", help="skip the 100-sample check")
    return ap.parse_args()


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

        data = default_dataset(2000, seed=0)
    train, test = data.subset("train"), data.subset("test")
    n = min(args.n_eval, len(test))
    # a seeded random draw: the test split is stored grouped by source web, so its first
    # rows would all come from one family
    pick = np.sort(np.random.default_rng(0).choice(len(test), size=n, replace=False))
    test_webs, train_webs = test.to_webs(pick), train.to_webs()
    print(f"dataset: {len(data)} samples, L={data.L}, K={data.K}; {n} test conditions; "
          f"novelty against all {len(train_webs)} training webs")  # fmt: skip
    base = _baseline(train, test_webs, n, args.baseline_draws)
    data_struct = structure_summary(test.to_webs())
    print("data (whole test split): " + ", ".join(f"{k} {v:.3f}" for k, v in data_struct.items()))
    conds = [dict(zip(test.feature_names, map(float, f))) for f in test.features[pick]]
    for name in args.models or available_models():
        model, how = _model(name, data, args.train_minutes, args.weights)
        print(f"\n=== model {name}: {how}")

        def ev(webs, stats, k=model.max_degree):
            return evaluate(webs, test_webs, train=train_webs, K=k, decode_stats=stats)

        with _alone(model):
            alone = _evaluate_mode(model, conds, args.seeds, ev)
        fig = _print_block(ALONE, alone, base, data_struct)
        if getattr(model.config, "exact", False):
            _print_block(CONSTRAINED, _evaluate_mode(model, conds, args.seeds, ev), base,
                         data_struct)  # fmt: skip
        _targets(fig)
        if not args.no_diversity:
            _diversity(model, conds[0], train_webs)
        sweep = [float(g) for g in args.guidance.split(",")]
        m = min(n, 32)
        with _alone(model):  # guidance acts on the model: sweep it without constraints
            errs = [
                _cond_error(model, model.sample(conds[:m], m, seed=1, guidance=g), conds[:m])
                for g in sweep
            ]
        print("  guidance sweep, model alone (mean normalised |achieved - requested|): "
              + ", ".join(f"g={g:g}: {e:.4f}" for g, e in zip(sweep, errs)))  # fmt: skip
        _speed(model, data, conds, train, args)
        size = sum(v.numel() * v.element_size() for v in model.weights().values()) / 1e6
        nparam = sum(p.numel() for p in model.net.parameters())
        print(f"  weights: {size:.2f} MB, {nparam / 1e6:.2f} M parameters (target <= 10 MB)")


if __name__ == "__main__":
    main()
