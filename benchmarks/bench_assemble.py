"""Benchmark of hierarchical assembly (issue 7): speed, scaling and memory.

Prints, against the targets of the issue:

* the reference case: an 80-step helix of a 64-node piece, in-process, median of repeats
  (target <= 0.023 s; the reference code takes 1.16 s on a quiet 2-core machine);
* structures of about 10k, 100k and 1M nodes: wall time (target <= 10 s at 1M), the share
  spent in the final ``WebGraph`` construction (validation in ``araneus.web``), and peak
  traced memory (``tracemalloc``, in a separate run) per node, which should stay flat;
* the invariants of every assembly: one component, no zero-length edges, every node within
  the merge tolerance of where its piece put it.

Usage: ``python benchmarks/bench_assemble.py [--quick] [--repeats N]`` (``--quick`` stops at
100k nodes). Times are only meaningful on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
from _results import record

from araneus.assembly import CurveSpec, assemble, join_placement, plan_assembly
from araneus.web import WebGraph

REFERENCE_S = 1.16
TARGET_80_S = 0.023
TARGET_1M_S = 10.0


def orb_piece(rings: int = 4, spokes: int = 16, radius: float = 5.0, seed: int = 0) -> WebGraph:
    """A 64-node jittered orb piece (4 rings x 16 spokes) standing in the xz plane."""
    rng = np.random.default_rng(seed)
    r = np.linspace(radius / rings, radius, rings)
    a = np.linspace(0, 2 * np.pi, spokes, endpoint=False)
    rr, aa = np.meshgrid(r, a, indexing="ij")
    x, z = rr.ravel() * np.cos(aa.ravel()), rr.ravel() * np.sin(aa.ravel())
    pos = np.stack([x, np.zeros(rr.size), z], 1)
    pos += rng.normal(scale=0.05 * radius / rings, size=pos.shape)
    idx = np.arange(rr.size).reshape(rings, spokes)
    e = [np.stack([idx[:, i], idx[:, (i + 1) % spokes]], 1) for i in range(spokes)]
    e.append(np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1))
    return WebGraph(pos, np.sort(np.concatenate(e), 1))


def check(web: WebGraph, report) -> str:
    ok = (
        web.n_components == 1
        and web.edge_lengths.min() > 0
        and report.max_displacement <= report.tol
    )
    return "ok" if ok else "VIOLATED"


def bench_reference(piece: WebGraph, repeats: int) -> None:
    spec = CurveSpec("helix", ["radius=20", "pitch=180"])
    web, rep = assemble(spec, piece, steps=80)  # warm-up (imports, caches)
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        web, rep = assemble(spec, piece, steps=80)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    med = statistics.median(times)
    record("bench_assemble", "helix_80_steps_ms", med * 1e3)
    record("bench_assemble", "speedup_vs_paper", REFERENCE_S / med)
    print("reference case: helix, 80 steps, 64-node piece, overlap 0.5")
    print(
        f"  {web.n_nodes} nodes, {web.n_edges} edges, {rep.merged_nodes} merged, "
        f"{rep.stitches} stitches, {rep.bridges} bridges; invariants {check(web, rep)}"
    )
    print(
        f"  median {med * 1e3:.1f} ms over {repeats} runs (min {min(times) * 1e3:.1f} ms); "
        f"target <= {TARGET_80_S * 1e3:.0f} ms -> {'MET' if med <= TARGET_80_S else 'NOT MET'}; "
        f"speed-up vs reference {REFERENCE_S / med:.0f}x (target >= 50x)"
    )
    print(
        f"  median CPU time {statistics.median(cpu) * 1e3:.1f} ms (wall/CPU > 1 means a busy machine)"
    )


def run_size(piece: WebGraph, steps: int) -> tuple[WebGraph, object, float, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    plan = plan_assembly("helix", piece, steps=steps)
    web, rep = join_placement(plan)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    WebGraph(web.pos, web.edges, web.node_attrs, web.edge_attrs)  # the validation share
    ctor = time.perf_counter() - t1
    return web, rep, total, cpu, ctor


def bench_scaling(piece: WebGraph, sizes: list[int]) -> None:
    print("scaling: helix, 64-node piece, overlap 0.5 (one run per size)")
    print(
        f"  {'pieces':>7} {'nodes':>9} {'edges':>9} {'time s':>8} {'cpu s':>7} {'WebGraph() s':>12} "
        f"{'peak MB':>8} {'bytes/node':>10}  invariants"
    )
    for steps in sizes:
        web, rep, total, cpu, ctor = run_size(piece, steps)
        inv = check(web, rep)
        n, e = web.n_nodes, web.n_edges
        del web
        tracemalloc.start()
        plan = plan_assembly("helix", piece, steps=steps)
        join_placement(plan)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"  {steps:>7} {n:>9} {e:>9} {total:>8.2f} {cpu:>7.2f} {ctor:>12.2f} "
            f"{peak / 2**20:>8.1f} {peak / n:>10.0f}  {inv}"
        )
        if n >= 900_000:
            record("bench_assemble", "million_nodes_s", total)
            record("bench_assemble", "million_nodes_bytes_per_node", peak / n)
            verdict = "MET" if total <= TARGET_1M_S else "NOT MET"
            print(f"  1M-node structure: {total:.2f} s, target <= {TARGET_1M_S:.0f} s -> {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="stop at ~100k nodes")
    ap.add_argument("--repeats", type=int, default=21, help="repeats of the reference case")
    args = ap.parse_args()
    piece = orb_piece()
    bench_reference(piece, args.repeats)
    sizes = [160, 1600] if args.quick else [160, 1600, 16000]
    bench_scaling(piece, sizes)


if __name__ == "__main__":
    main()
