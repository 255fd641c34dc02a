"""Benchmark: inductive sampling throughput (issue 4).

Target: >= 2,000 samples/s on 2 cores for 64-node random-walk samples from a 20k-node web.
Also reports the bfs and crop samplers, the default training set, and save/load.
Run: .venv/bin/python benchmarks/bench_dataset.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _results import record
from _timing import median_time

from araneus.builders import TentConfig, build
from araneus.dataset import WebDataset, build_dataset, default_dataset

N_SAMPLES = 10_000


def main() -> None:
    t0 = time.perf_counter()
    web = build("tent", TentConfig(sheet_radius=125.0), 0)
    print(f"source: tent web, {web.n_nodes} nodes, {web.n_edges} edges "
          f"(built in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
    for sampler in ("rw", "bfs", "crop"):
        dt, ds = median_time(lambda s=sampler: build_dataset(web, N_SAMPLES, sampler=s, n_min=64,
                                                       n_max=64, seed=0))  # fmt: skip
        tag = "  (target >= 2000 samples/s)" if sampler == "rw" else ""
        record("bench_dataset", f"{sampler}_samples_per_s", N_SAMPLES / dt)
        print(
            f"{sampler:>4}: {N_SAMPLES} samples of 64 nodes in {dt:.2f} s = "
            f"{N_SAMPLES / dt:,.0f} samples/s, mean size {ds.n_nodes.mean():.1f}{tag}"
        )
    dt, ds = median_time(lambda: build_dataset(web, N_SAMPLES, split="region", seed=0))
    print(
        f"  rw 16-64 nodes, region split: {N_SAMPLES / dt:,.0f} samples/s, "
        f"overlap {ds.meta['split_overlap']}"
    )
    default_dataset(n=100)  # build (and cache) the default source webs once
    dt, ds = median_time(lambda: default_dataset(n=4000))
    print(f"default_dataset(n=4000), source webs cached: {dt:.2f} s")
    record("bench_dataset", "default_dataset_s", dt)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "d.npz"
        dts, _ = median_time(lambda: ds.save(p))
        dtl, _ = median_time(lambda: WebDataset.load(p))
        print(
            f"save {dts:.2f} s, load+validate {dtl:.2f} s ({p.stat().st_size / 1e6:.1f} MB, "
            f"{len(ds)} samples)"
        )


if __name__ == "__main__":
    main()
