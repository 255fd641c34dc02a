"""Benchmark: evaluation metrics over 1,000 64-node webs (issue 4).

Target: all metrics (MMD of degree/clustering/orbit/edge-length/orientation, V.U.N. with
novelty against 1,000 training webs) over 1,000 generated 64-node webs in <= 30 s.
Run: .venv/bin/python benchmarks/bench_metrics.py
"""

from __future__ import annotations

from _timing import median_time

from araneus.builders import build
from araneus.dataset import build_dataset
from araneus.metrics import distribution_mmd, evaluate, orbit_counts, stack_webs, vun


def main() -> None:
    web = build("tent", None, 0)
    ds = build_dataset(web, 2000, n_min=64, n_max=64, seed=0, split="none")
    webs = ds.to_webs()
    gen, ref = webs[:1000], webs[1000:]
    print(f"{len(gen)} generated vs {len(ref)} reference webs of 64 nodes (tent samples)")
    dt, _ = median_time(lambda: orbit_counts(stack_webs(gen)))
    print(f"orbit counts (15 orbits, 1000 webs): {dt:.2f} s")
    dt, _ = median_time(lambda: distribution_mmd(gen, ref, "emd"))
    print(f"MMD, 5 statistics, EMD kernel: {dt:.2f} s")
    dt, _ = median_time(lambda: vun(gen, ref))
    print(f"V.U.N. with novelty vs 1000 train webs: {dt:.2f} s")
    dt, rep = median_time(lambda: evaluate(gen, ref))
    print(f"evaluate() total: {dt:.2f} s  (target <= 30 s)")


if __name__ == "__main__":
    main()
