"""Benchmark: generation speed of model 3 (autoregressive) and how it grows with web size.

Prints graphs/s at batch 16 for 64-node webs with and without the key/value cache, with
and without feature guidance (which draws ``guide_draws`` candidate positions per node and
keeps one), and the time to generate a batch against the number of nodes (the cache should
make it grow about linearly). Uses the shipped weights if present (else an untrained model
of the default size: speed does not depend on the weights when the number of nodes is
forced). One torch thread by default (``--threads``).

Run: .venv/bin/python benchmarks/bench_autoregressive.py [--repeats 3] [--threads 1]
Reference (issue 6): the paper's model 3 needs 80 s for 16 graphs of 64 nodes on this CPU
(0.20 graphs/s); the target is >= 20 graphs/s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _results import record

from araneus.dataset import WebDataset
from araneus.models import load_pretrained, pretrained_models
from araneus.models.autoregressive import AutoregressiveGraph
from araneus.web import WebGraph


def _model() -> AutoregressiveGraph:
    if "autoregressive" in pretrained_models():
        return load_pretrained("autoregressive")
    rng = np.random.default_rng(0)
    webs = []
    for _ in range(8):
        n = 64
        pos = rng.normal(size=(n, 3))
        e = np.stack([np.arange(1, n), rng.integers(0, np.arange(1, n))], 1)
        webs.append(WebGraph.from_raw(pos, e)[0])
    m = AutoregressiveGraph()
    m.setup(WebDataset.from_webs(webs, K=5, L=64))
    return m


def time_batch(m: AutoregressiveGraph, n_nodes: int, batch: int, cache: bool, seed: int) -> float:
    """Seconds to generate ``batch`` webs of exactly ``n_nodes`` nodes (nothing requested:
    feature guidance, where on, steers only the mean edge length, 1 in units of the
    web's scale by definition)."""
    f = len(m.feature_names)
    vals = torch.zeros(batch, f)
    pres = torch.zeros(batch, f, dtype=torch.bool)
    old_min, old_len = m.config.min_nodes, m.max_nodes
    m.config.min_nodes = n_nodes  # no early stop before n_nodes ...
    m.max_nodes = n_nodes  # ... and none after
    try:
        g = torch.Generator().manual_seed(seed)
        t0 = time.perf_counter()
        with torch.no_grad():
            m.generate_raw(vals, pres, 1.0, g, use_cache=cache)
        return time.perf_counter() - t0
    finally:
        m.config.min_nodes, m.max_nodes = old_min, old_len


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = _model()
    m.net.eval()
    params = sum(p.numel() for p in m.net.parameters())
    print(f"model 3: {params / 1e6:.2f} M parameters, L = {m.max_nodes}, K = {m.max_degree}, "
          f"{args.threads} thread(s)")  # fmt: skip
    time_batch(m, 16, 16, True, 0)  # warm-up
    guided = m.config.feature_guidance
    for cache, fg in ((True, 0.0), (True, guided), (False, 0.0)):
        m.config.feature_guidance = fg
        ts = [time_batch(m, 64, 16, cache, r) for r in range(args.repeats)]
        med = statistics.median(ts)
        record("bench_autoregressive", f"graphs_per_s{'' if cache else '_no_cache'}", 16 / med)
        if cache:
            record("bench_autoregressive", "speedup_vs_paper", 16 / med / 0.20)
        print(
            f"batch 16 x 64 nodes, cache={cache}, feature guidance {fg:g}: {med:.3f} s  "
            f"({16 / med:.1f} graphs/s; {16 / med / 0.20:.0f}x the reference's 0.20 graphs/s)"
        )
    m.config.feature_guidance = guided
    print("nodes  seconds/batch16 (cached)  per-node ms")
    per_node = []
    for n in (8, 16, 32, 48, 64):
        med = statistics.median(time_batch(m, n, 16, True, r) for r in range(args.repeats))
        print(f"{n:5d}  {med:8.3f}  {1000 * med / n:8.2f}")
        per_node.append(1000 * med / n)
    record("bench_autoregressive", "ms_per_node_min", min(per_node))
    record("bench_autoregressive", "ms_per_node_max", max(per_node))


if __name__ == "__main__":
    main()
