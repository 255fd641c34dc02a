"""Benchmark: web -> watertight printable mesh -> binary STL (issue 8, printable meshes).

Target: a 10,000-strut web to a watertight STL in <= 20 s on 2 cores.

The web is a jittered 3-D lattice (5 mm spacing, 0.8 mm jitter) with 10,000 edges; struts
0.8 mm, nodes 1.2 mm, FDM checks. Prints the median wall time of the whole
``build_mesh`` + ``export_mesh`` over repeats for the default smooth ("hull") joints, and one
run of the exact boolean ("sphere") joints on a 2,000-strut lattice for comparison.

Usage: python benchmarks/bench_fabricate.py [--repeats 3] [--struts 10000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import record

from araneus.fabrication import build_mesh, export_mesh
from araneus.web import WebGraph


def jittered_lattice(n_edges: int, spacing: float = 5.0, jitter: float = 0.8, seed: int = 0):
    """A cubic lattice web with ``n_edges`` edges (random subset of a full lattice)."""
    rng = np.random.default_rng(seed)
    n = int(np.ceil((n_edges / 3.0) ** (1 / 3))) + 1
    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    idx = np.arange(n**3).reshape(n, n, n)
    edges = np.concatenate(
        [
            np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1),
            np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1),
            np.stack([idx[:, :, :-1].ravel(), idx[:, :, 1:].ravel()], 1),
        ]
    )
    edges = edges[np.sort(rng.permutation(len(edges))[:n_edges])]
    pos = grid * spacing + rng.normal(0.0, jitter, grid.shape)
    return WebGraph(pos, edges).drop_isolated()


def run_once(web: WebGraph, joint: str, out: Path) -> tuple[float, float, float, object]:
    """Build + export once; returns build wall s, total wall s, total CPU s, report."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    res = build_mesh(web, strut=0.8, node=1.2, process="fdm", joint=joint)
    t1 = time.perf_counter()
    export_mesh(res.mesh, out)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t0, time.process_time() - c0, res.report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--struts", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "web.stl"
        web = jittered_lattice(args.struts)
        builds, totals, cpus = [], [], []
        for _ in range(args.repeats):
            b, t, c, rep = run_once(web, "hull", out)
            builds.append(b)
            totals.append(t)
            cpus.append(c)
        print(
            f"hull joints: {web.n_edges} struts, {web.n_nodes} nodes -> {rep.triangles} "
            f"triangles, watertight {rep.watertight}, bodies {rep.bodies}, "
            f"boolean fallback {rep.boolean_nodes} nodes / {rep.boolean_struts} struts, "
            f"STL {out.stat().st_size / 1e6:.1f} MB"
        )
        record("bench_fabricate", "build_and_stl_s", statistics.median(totals))
        print(
            f"  median build {statistics.median(builds):.2f} s, build+STL "
            f"{statistics.median(totals):.2f} s (target <= 20 s on 2 cores), CPU "
            f"{statistics.median(cpus):.2f} s "
            f"[{args.repeats} repeats]"
        )
        small = jittered_lattice(2_000, seed=1)
        for joint in ("hull", "sphere"):
            b, t, c, rep = run_once(small, joint, out)
            print(
                f"{joint} joints, {small.n_edges} struts: build+STL {t:.2f} s (CPU {c:.2f} s), "
                f"{rep.triangles} triangles, watertight {rep.watertight}, "
                f"volume {rep.volume_mm3:.0f} mm^3"
            )


if __name__ == "__main__":
    main()
