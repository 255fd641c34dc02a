"""Benchmark: read (JSON) + repair a synthetic 10k-node, ~3.5k-fragment scan skeleton.

Target (issue 2): read + repair <= 2 s. The skeleton imitates a real laser-scan web
skeleton: a 3-D web of threads (lattice struts subdivided into chains of segments), broken
in thousands of places, jittered, with short debris pieces, and written as a plain
``{"nodes", "edges"}`` JSON that lists ~1.2k edges twice (reverse direction), as scan tools
do. Prints the median of repeats of each stage and the repair quality.

Usage: ``python benchmarks/bench_repair.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from _timing import median_time
from scipy.spatial import cKDTree

from araneus.clean import repair, simulate_breaks
from araneus.damage import thread_lattice
from araneus.io import read_web
from araneus.web import WebGraph

TARGET_S = 2.0


def write_scan_json(web: WebGraph, path: Path, n_dup: int, seed: int) -> None:
    """Plain skeleton JSON with ``n_dup`` edges listed a second time, reversed."""
    rng = np.random.default_rng(seed)
    dup = web.edges[rng.choice(web.n_edges, n_dup, replace=False)][:, ::-1]
    doc = {"nodes": web.pos.tolist(), "edges": np.concatenate([web.edges, dup]).tolist()}
    path.write_text(json.dumps(doc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    base = thread_lattice(n=9, sub=4, spacing=10.0)
    broken = simulate_breaks(
        base, n_breaks=1500, jitter=0.05, debris=250, noise_points=2900, seed=0
    )
    deg1 = float(np.mean(broken.degrees == 1))
    print(
        f"skeleton: {broken.n_nodes} nodes, {broken.n_edges} edges, "
        f"{broken.n_components} fragments, degree-1 share {deg1:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.json"
        write_scan_json(broken, path, n_dup=1225, seed=1)
        t_read, web = median_time(lambda: read_web(path), args.repeats)
    t_rep, (fixed, rep) = median_time(lambda: repair(web), args.repeats)
    t_simp, (simp, rep_s) = median_time(lambda: repair(web, simplify=True), args.repeats)
    total = t_read + t_rep
    cut = {tuple(e) for e in broken.meta["broken_edges"]}
    _, near = cKDTree(web.pos).query(fixed.pos)  # repaired node -> input node
    got = {tuple(e) for e in np.sort(near[fixed.edges], axis=1).tolist()}
    orig = {tuple(e) for e in base.edges.tolist()}
    print(f"read JSON           median {t_read:.3f} s")
    print(f"repair              median {t_rep:.3f} s")
    print(f"repair + simplify   median {t_simp:.3f} s")
    status = "OK" if total <= TARGET_S else "OVER TARGET"
    print(f"read + repair       median {total:.3f} s   target <= {TARGET_S:.1f} s   {status}")
    print(
        f"repair result: {rep.bridges_added} bridges for {rep.thread_ends} thread ends "
        f"({rep.bridge_candidates} candidates), {rep.before['components']} -> "
        f"{rep.after['components']} components, largest keeps {fixed.n_nodes} of "
        f"{web.n_nodes} nodes"
    )
    print(
        f"quality: {len(cut & got)} of {len(cut)} removed segments restored "
        f"({len(cut & got) / len(cut):.1%}); {len(orig & got) / len(orig):.1%} of the "
        f"original web's edges present after repair"
    )
    print(f"simplified: {simp.n_nodes} nodes, {rep_s.chains_contracted} chains contracted")


if __name__ == "__main__":
    main()
