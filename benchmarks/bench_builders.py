"""Benchmark of the procedural web builders (issue 3).

Target: a 20k-node tent web builds in <= 5 s on 2 cores. Also reports the default orb,
tent and tangle webs. Prints medians of repeated builds (seconds) and the web sizes.

Usage: python benchmarks/bench_builders.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from araneus.builders import OrbConfig, TangleConfig, TentConfig, build

CASES = [
    ("orb (default)", "orb", OrbConfig(), None),
    ("tangle (default)", "tangle", TangleConfig(), None),
    ("tent (default)", "tent", TentConfig(), None),
    ("tent 20k nodes", "tent", TentConfig(sheet_radius=122.0), 5.0),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"{'case':<18} {'nodes':>7} {'edges':>7} {'median s':>9} {'min s':>7}  target")
    failed = False
    for label, family, cfg, target in CASES:
        times = []
        for rep in range(args.repeats):
            t0 = time.perf_counter()
            web = build(family, cfg, seed=rep)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        verdict = ""
        if target is not None:
            ok = med <= target
            failed |= not ok
            verdict = f"<= {target:g} s  {'OK' if ok else 'MISSED'}"
        print(
            f"{label:<18} {web.n_nodes:>7} {web.n_edges:>7} {med:>9.3f} {min(times):>7.3f}  {verdict}"
        )
    if failed:
        print("some targets missed (check machine load)")


if __name__ == "__main__":
    main()
