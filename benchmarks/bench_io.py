"""Benchmark: write and read a 10k-node web in every format (median of repeats, seconds).

The issue's repair benchmark reads and repairs a 10k-node scan skeleton in <= 2 s, so the
read part should be a small fraction of that: target <= 0.5 s to read the 10k-node
skeleton JSON with its duplicate edges (marked OK/SLOW below).

    .venv/bin/python benchmarks/bench_io.py [--nodes 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from _results import record
from _timing import median_time
from scipy.spatial import cKDTree

from araneus import WebGraph
from araneus.io import read_web_report, write_web

FORMATS = [
    ("json", ".json"),
    ("skeleton-json", ".json"),
    ("csv", ".csv"),
    ("graphml", ".graphml"),
    ("mat", ".mat"),
    ("ply", ".ply"),
    ("ply-ascii", ".ply"),
    ("obj", ".obj"),
    ("lammps", ".data"),
    ("xyz", ".xyz"),
]
TARGET_SKELETON_READ_S = 0.5


def synthetic_web(n: int, seed: int = 0) -> WebGraph:
    """Random 3-D web: each node joined to its 3 nearest neighbours, thread types and anchors."""
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 3)) * [100.0, 100.0, 30.0]
    _, nb = cKDTree(pos).query(pos, k=4)
    raw = np.stack([np.repeat(np.arange(n), 3), nb[:, 1:].ravel()], axis=1)
    web, _ = WebGraph.from_raw(pos, raw)
    return web.replace(
        node_attrs={"anchor": rng.random(n) < 0.02},
        edge_attrs={
            "thread": rng.integers(1, 6, web.n_edges).astype(np.int8),
            "radius": rng.random(web.n_edges) * 0.01,
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    web = synthetic_web(args.nodes)
    print(f"web: {web.n_nodes} nodes, {web.n_edges} edges; median of {args.repeats} runs")
    print(f"{'format':<14}{'write s':>10}{'read s':>10}{'size MB':>10}")
    with tempfile.TemporaryDirectory() as d:
        for fmt, suffix in FORMATS:
            path = Path(d) / f"{fmt}{suffix}"
            tw, _ = median_time(lambda p=path, f=fmt: write_web(web, p, f), args.repeats)
            size = sum(q.stat().st_size for q in Path(d).glob(f"{fmt}.*")) / 1e6
            if fmt == "lammps":
                print(f"{fmt:<14}{tw:>10.3f}{'-':>10}{size:>10.2f}")
                continue
            tr, _ = median_time(lambda p=path, f=fmt: read_web_report(p, f), args.repeats)
            print(f"{fmt:<14}{tw:>10.3f}{tr:>10.3f}{size:>10.2f}")
            if fmt in ("ply", "mat", "graphml"):
                record("bench_io", f"{fmt}_read_s", tr)
        # a scan-like skeleton: both directions listed for ~1,225 edges, some self-loops
        rng = np.random.default_rng(1)
        e = web.edges
        dup = e[rng.choice(len(e), 1225, replace=False)][:, ::-1]
        loops = np.repeat(rng.choice(web.n_nodes, 20)[:, None], 2, axis=1)
        raw = np.concatenate([e, dup, loops])[rng.permutation(len(e) + 1245)]
        path = Path(d) / "scan.json"
        path.write_text(json.dumps({"nodes": web.pos.tolist(), "edges": raw.tolist()}))
        tr, _ = median_time(lambda: read_web_report(path), args.repeats)
        _, rep = read_web_report(path)
        record("bench_io", "scan_json_read_s", tr)
        verdict = "OK" if tr <= TARGET_SKELETON_READ_S else "SLOW"
        print(
            f"scan skeleton JSON read: {tr:.3f} s (target <= {TARGET_SKELETON_READ_S} s: "
            f"{verdict}); dropped {rep.duplicates} duplicates, {rep.self_loops} self-loops"
        )


if __name__ == "__main__":
    main()
