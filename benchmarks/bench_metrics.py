"""Benchmark: evaluation metrics over 1,000 64-node webs (issues 4 and 20).

Target: all metrics (MMD of degree/clustering/orbit/relative and absolute edge-length/
orientation statistics with ratios to a baseline set, V.U.N. up to isomorphism and on
geometry with novelty against 1,000 training webs, triangles and leaves) over 1,000
generated 64-node webs in <= 30 s.
Run: .venv/bin/python benchmarks/bench_metrics.py
"""

from __future__ import annotations

from _results import record
from _timing import median_time

from araneus.builders import build
from araneus.dataset import build_dataset
from araneus.metrics import (
    distribution_mmd,
    evaluate,
    first_geometries,
    first_topologies,
    novel_geometries,
    orbit_counts,
    stack_webs,
    structure_summary,
    topology_hashes,
    vun,
)


def main() -> None:
    web = build("tent", None, 0)
    ds = build_dataset(web, 3000, n_min=64, n_max=64, seed=0, split="none")
    webs = ds.to_webs()
    gen, ref, base = webs[:1000], webs[1000:2000], webs[2000:]
    print(f"{len(gen)} generated vs {len(ref)} reference webs of 64 nodes (tent samples)")
    dt, _ = median_time(lambda: orbit_counts(stack_webs(gen)))
    print(f"orbit counts (15 orbits, 1000 webs): {dt:.2f} s")
    dt, _ = median_time(lambda: distribution_mmd(gen, ref, "emd"))
    print(f"MMD, 6 statistics, EMD kernel: {dt:.2f} s")
    dt, _ = median_time(lambda: topology_hashes(gen))
    print(f"topology hashes (colour refinement to the stable partition): {dt:.2f} s")
    dt, first = median_time(lambda: first_topologies(gen))
    print(f"uniqueness up to isomorphism (hash + VF2++ on equal hashes): {dt:.2f} s, "
          f"{first.mean():.1%} unique")  # fmt: skip
    dt, first = median_time(lambda: first_geometries(gen))
    print(f"uniqueness on geometry (5% of the mean edge length): {dt:.2f} s, "
          f"{first.mean():.1%} unique")  # fmt: skip
    dt, nov = median_time(lambda: novel_geometries(gen, ref))
    print(f"novelty on geometry vs 1000 webs: {dt:.2f} s, {nov.mean():.1%} novel")
    dt, _ = median_time(lambda: structure_summary(gen))
    print(f"triangles and leaves: {dt:.2f} s")
    dt, r = median_time(lambda: vun(gen, ref))
    print(f"V.U.N. (topology and geometry) with novelty vs 1000 train webs: {dt:.2f} s "
          f"(unique {r['unique_topology']:.1%}, novel {r['novel_topology']:.1%})")  # fmt: skip
    dt, rep = median_time(lambda: evaluate(gen, ref, train=ref, baseline=base))
    print(f"evaluate() total, with train and baseline: {dt:.2f} s  (target <= 30 s)")
    record("bench_metrics", "evaluate_s", dt)


if __name__ == "__main__":
    main()
