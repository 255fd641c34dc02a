"""Headline figures of the benchmarks, kept in ``benchmarks/results.json`` for the README.

Each benchmark prints its figures and hands the headline ones (those the README's
benchmark table quotes) to :func:`record`. Only with ``ARANEUS_BENCH_RECORD=1`` in the
environment are they written into ``results.json``, with the date, the machine and the
highest 1-minute load average seen while recording, so that a run on a busy machine never replaces quiet-machine figures by
accident::

    ARANEUS_BENCH_RECORD=1 .venv/bin/python benchmarks/bench_io.py

A figure is rounded as the README quotes it: three significant digits, whole numbers from
100 up. ``tests/test_readme_figures.py`` checks (without running anything) that the README
quotes every recorded figure, so the README cannot drift from the benchmark outputs.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")
ENV = "ARANEUS_BENCH_RECORD"
_started: set[str] = set()


def rounded(value: float) -> float | int:
    """``value`` as the README quotes it: 3 significant digits, whole numbers from 100 up."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"a headline figure must be finite, got {value!r}")
    if abs(v) >= 100:
        return int(round(v))
    return float(f"{v:.3g}")


def record(bench: str, name: str, value: float) -> None:
    """Keep ``value`` as the figure ``name`` of benchmark ``bench`` (``bench_io``, ...).

    Written into :data:`RESULTS` only when the environment sets ``ARANEUS_BENCH_RECORD=1``;
    the first figure a run records for ``bench`` replaces that benchmark's earlier entry.
    """
    if os.environ.get(ENV) != "1":
        return
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    entries = data.setdefault("benchmarks", {})
    if bench not in _started:
        _started.add(bench)
        entries[bench] = {
            "recorded": time.strftime("%Y-%m-%d %H:%M"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}",
            "load_average_1min": round(os.getloadavg()[0], 2),
            "figures": {},
        }
    entry = entries[bench]
    entry["load_average_1min"] = max(entry["load_average_1min"], round(os.getloadavg()[0], 2))
    entry["figures"][name] = rounded(value)
    tmp = RESULTS.with_name(RESULTS.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, RESULTS)
