"""Benchmark of ``araneus demo`` (issue 9): whole pipeline, full and quick.

Targets (2 CPU cores): full run <= 300 s; ``--quick`` run well under 60 s. Prints the median
wall time of the quick run (3 repeats) and of the full run (1 run: it is the long one),
each with its per-stage times from the run's own clock.

Uses the packaged pretrained weights; ``--weights DIR`` points at other checkpoints
(``DIR/<model>/model.json``), ``--threads N`` sets torch's CPU threads, ``--quick-only``
skips the full run.

Usage: python benchmarks/bench_demo.py [--quick-only] [--weights DIR] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import record  # noqa: E402
from _timing import median_time  # noqa: E402

from araneus.demo import DemoConfig, run_demo  # noqa: E402

TARGETS = {"quick": 60.0, "full": 300.0}


def bench(quick: bool, repeats: int, weights: str | None, threads: int | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = DemoConfig(quick=quick, seed=0, out=str(Path(tmp) / "out"), weights_dir=weights,
                         threads=threads)  # fmt: skip
        seconds, result = median_time(lambda: run_demo(cfg), repeats)
        kind = "quick" if quick else "full"
        record("bench_demo", f"{kind}_s", seconds)
        ok = "ok" if seconds <= TARGETS[kind] else "OVER TARGET"
        print(f"demo {kind:<5}: median {seconds:7.1f} s over {repeats} run(s) "
              f"(target <= {TARGETS[kind]:.0f} s) {ok}")  # fmt: skip
        for stage, t in result.timings.items():
            print(f"    {stage:<40}{t:7.1f} s")
        for st in result.structures.values():
            print(f"    {st.name}: {st.web.n_nodes} nodes, {st.web.n_edges} edges, "
                  f"{st.mesh_summary['triangles']} triangles")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick-only", action="store_true")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    bench(True, 3, args.weights, args.threads)
    if not args.quick_only:
        bench(False, 1, args.weights, args.threads)


if __name__ == "__main__":
    main()
