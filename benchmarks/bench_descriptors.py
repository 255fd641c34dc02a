"""Benchmark of the mechanical descriptors (issue 21): throughput on dataset pieces.

Target: >= 200 samples/s for 64-node pieces on 2 cores (all four descriptors per sample:
stiffness per gram along x, y, z and under a point load), for silk (pretensioned) and PLA.
Pieces: random-walk samples of exactly 64 nodes cut from the default scan-like sources.
Also prints the per-web general-mechanics path (``descriptor_reference``) for comparison,
and the silk form-finding movement over the default dataset's pieces.

Usage: python benchmarks/bench_descriptors.py [--quick] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _results import record  # noqa: E402

from araneus.dataset import default_dataset  # noqa: E402
from araneus.mechanics.descriptors import descriptor_reference, padded_descriptors  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples")
    ap.add_argument("--workers", type=int, default=2, help="processes (2 cores: 2)")
    args = ap.parse_args()
    n = 512 if args.quick else 2048
    ds = default_dataset(n=n, seed=11, n_min=64, n_max=64)
    print(f"{len(ds)} pieces of {int(ds.n_nodes.min())}-{int(ds.n_nodes.max())} nodes, "
          f"mean {ds.features[:, 5].mean():.1f} edges; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (timings under load)")  # fmt: skip
    for material in ("silk", "pla"):
        padded_descriptors(ds.pos[:16], ds.nbrs[:16], ds.mask[:16], material)  # warm up
        for workers in sorted({1, args.workers}):
            t0 = time.perf_counter()
            vals, info = padded_descriptors(ds.pos, ds.nbrs, ds.mask, material, workers=workers)
            dt = time.perf_counter() - t0
            print(f"{material:5s} workers {workers}: {n / dt:7.0f} samples/s "
                  f"({dt:.2f} s for {n}; {int(np.isnan(vals).any(1).sum())} undefined)")  # fmt: skip
            if workers == 1 and not args.quick:
                record("bench_descriptors", f"{material}_samples_per_s", n / dt)
        m = 8 if args.quick else 24
        webs = ds.to_webs(range(m))
        t0 = time.perf_counter()
        for w in webs:
            descriptor_reference(w, material)
        dt = time.perf_counter() - t0
        print(f"{material:5s} one web at a time through the general mechanics: "
              f"{m / dt:7.1f} samples/s")  # fmt: skip
        if not args.quick:
            record("bench_descriptors", f"{material}_reference_samples_per_s", m / dt)
    full = default_dataset(n=1000 if args.quick else 4000, seed=0)
    _, info = padded_descriptors(full.pos, full.nbrs, full.mask, "silk", workers=args.workers)
    print(f"silk prestress over {len(full)} default-dataset pieces (attachment points held):")
    for key, what in (("moved_max_rel", "largest node movement / extent"),
                      ("moved_median_rel", "median free-node movement / extent"),
                      ("held_fraction", "attachment points / nodes")):  # fmt: skip
        q = np.nanquantile(info[key], [0.5, 0.9, 0.99, 1.0])
        print(f"  {what:38s} median {q[0]:.3f}  p90 {q[1]:.3f}  p99 {q[2]:.3f}  max {q[3]:.3f}")


if __name__ == "__main__":
    main()
