"""Benchmark of the procedural web builders (issues 3 and 19).

Target: a 20k-node tent web builds in <= 5 s on 2 cores. Also reports the default orb,
tent and tangle webs in both forms (junctions only and scan-like, ``resolution="auto"``),
and the calibration statistics of the builders beside the real-web figures and targets
(:mod:`araneus.builders.calibration`), averaged over ``--seeds`` seeds.

Usage: python benchmarks/bench_builders.py [--repeats N] [--seeds N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _results import record

from araneus.builders import REAL_WEBS, TARGETS, OrbConfig, TangleConfig, TentConfig, build
from araneus.builders.calibration import shape_statistics

CASES = [
    ("orb (default)", "orb", OrbConfig(), None),
    ("tangle (default)", "tangle", TangleConfig(), None),
    ("tent (default)", "tent", TentConfig(), None),
    ("tent 20k nodes", "tent", TentConfig(sheet_radius=125.0), 5.0),
    ("orb scan-like", "orb", OrbConfig(resolution="auto"), None),
    ("tangle scan-like", "tangle", TangleConfig(resolution="auto"), None),
    ("tent scan-like", "tent", TentConfig(resolution="auto"), None),
]

#: Timed cases the README quotes, by their name there.
README_CASES = {"tent 20k nodes": "tent_20k", "tent (default)": "tent_default",
                "tent scan-like": "tent_scan_like", "orb (default)": "orb",
                "tangle (default)": "tangle"}  # fmt: skip

STATS = ["degree_1", "degree_2", "degree_3", "degree_4", "degree_5+", "length_p5",
         "length_p50", "length_p95", "length_cv", "vertical_share", "radials",
         "rings_per_radial"]  # fmt: skip


def timings(repeats: int) -> None:
    print(f"{'case':<18} {'nodes':>7} {'edges':>7} {'median s':>9} {'min s':>7}  target")
    failed = False
    for label, family, cfg, target in CASES:
        times = []
        for rep in range(repeats):
            t0 = time.perf_counter()
            web = build(family, cfg, seed=rep)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        verdict = ""
        if target is not None:
            ok = med <= target
            failed |= not ok
            verdict = f"<= {target:g} s  {'OK' if ok else 'MISSED'}"
        print(f"{label:<18} {web.n_nodes:>7} {web.n_edges:>7} {med:>9.3f} {min(times):>7.3f}  {verdict}")
        if label in README_CASES:
            record("bench_builders", f"{README_CASES[label]}_s", med)
    if failed:
        print("some targets missed (check machine load)")


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, tuple):
        return f"{v[0]:.3g}" if v[0] == v[1] else f"{v[0]:.3g}-{v[1]:.3g}"
    return f"{v:.3g}"


def calibration(seeds: int) -> None:
    rows = {
        "tent scan-like": ("tent", TentConfig(resolution="auto"), "tent scans"),
        "tent junctions": ("tent", TentConfig(), "tent scans"),
        "orb junctions": ("orb", OrbConfig(), "traced orb"),
        "orb scan-like": ("orb", OrbConfig(resolution="auto"), "traced orb"),
        "tangle scan-like": ("tangle", TangleConfig(resolution="auto"), None),
    }
    print(f"\ncalibration statistics, mean (min-max) over seeds 0-{seeds - 1}")
    print(f"{'statistic':<17}" + "".join(f"{k:>24}" for k in rows) + f"{'tent scans':>14}{'traced orb':>12}")
    values = {}
    for label, (family, cfg, _) in rows.items():
        st = [shape_statistics(build(family, cfg, seed=s)) for s in range(seeds)]
        values[label] = {k: [x[k] for x in st if k in x] for k in STATS}
    for k in STATS:
        cells = []
        for label in rows:
            v = values[label][k]
            cells.append(f"{np.mean(v):.3f} ({min(v):.3f}-{max(v):.3f})" if v else "-")
        real = [_fmt(REAL_WEBS[r].get(k)) for r in ("tent scans", "traced orb")]
        print(f"{k:<17}" + "".join(f"{c:>24}" for c in cells) + f"{real[0]:>14}{real[1]:>12}")
    for family, (form, targets) in TARGETS.items():
        label = f"{family} {'scan-like' if form == 'scan-like' else 'junctions'}"
        for k, (lo, hi) in targets.items():
            v = values[label][k]
            ok = all(lo <= x <= hi for x in v)
            print(f"target {family:<6} {k:<15} in [{lo:g}, {hi:g}]: {min(v):.3g}-{max(v):.3g}  "
                  f"{'OK' if ok else 'MISSED'}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    timings(args.repeats)
    calibration(args.seeds)


if __name__ == "__main__":
    main()
