"""The README quotes the benchmark figures recorded in ``benchmarks/results.json``.

The benchmarks write their headline figures there when run with ``ARANEUS_BENCH_RECORD=1``
(``benchmarks/_results.py``); this test only checks consistency (it runs no benchmark):
every recorded figure must appear, as recorded, in the README row of its benchmark, and
every row of the README's benchmark table must have recorded figures (or a reason below).
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BENCH_DIR = ROOT / "benchmarks"
RESULTS = BENCH_DIR / "results.json"

#: README rows named otherwise than their benchmark script.
ROW = {"bench_demo": "make demo"}
#: Rows of the README's benchmark table without recorded figures, and why.
NOT_RECORDED = {
    "bench_models": "points to the model table, whose figures come from several runs",
    "make test": "the test count and time come from pytest, not from a benchmark script",
}
#: A number as the README writes it: 4,041 / 0.078 / 58 (in 58x) / 4e-14.
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:e-?\d+)?")


def benchmark_rows(readme: str) -> dict[str, str]:
    """Rows of the README's benchmark table: first cell (backticks removed) -> the rest."""
    section = readme.split("\n## Benchmarks", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or set(cells[0]) <= set("-: ") or cells[0] == "benchmark":
            continue
        rows[cells[0].strip("`")] = " | ".join(cells[1:])
    return rows


def quoted_numbers(text: str) -> set[float]:
    return {float(t.replace(",", "").rstrip(",")) for t in NUMBER.findall(text)}


def figure_values(value) -> list[float]:
    return list(value) if isinstance(value, list) else [value]


def drift(readme: str, results: dict) -> list[str]:
    """Every recorded figure the README does not quote in its benchmark's row."""
    rows = benchmark_rows(readme)
    problems = []
    for bench, entry in results["benchmarks"].items():
        row = ROW.get(bench, bench)
        if row not in rows:
            problems.append(f"{bench}: no README row '{row}' in the benchmark table")
            continue
        numbers = quoted_numbers(rows[row])
        for name, value in entry["figures"].items():
            for v in figure_values(value):
                if float(v) not in numbers:
                    problems.append(f"{bench}: {name} = {v} is not what the README row says")
    return problems


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text())


def test_results_file_is_well_formed(results):
    assert results["benchmarks"], "no benchmark figures recorded"
    for bench, entry in results["benchmarks"].items():
        assert (BENCH_DIR / f"{bench}.py").is_file(), f"{bench}: no benchmark script"
        assert entry["figures"], f"{bench}: no figures"
        for name, value in entry["figures"].items():
            for v in figure_values(value):
                ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                assert ok, f"{bench}: {name} = {v!r} is not a finite number"
        if not entry.get("seeded_from_readme"):  # written by a benchmark run
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", entry["recorded"]), bench
            assert entry["machine"] and isinstance(entry["load_average_1min"], (int, float))


def test_readme_quotes_every_recorded_figure(results):
    problems = drift(README.read_text(encoding="utf-8"), results)
    assert not problems, (
        "README and benchmarks/results.json disagree (update the README from the recorded "
        "figures, or re-record with ARANEUS_BENCH_RECORD=1):\n" + "\n".join(problems)
    )


def test_every_benchmark_row_has_recorded_figures(results):
    recorded = {ROW.get(b, b) for b in results["benchmarks"]}
    rows = set(benchmark_rows(README.read_text(encoding="utf-8")))
    missing = rows - recorded - set(NOT_RECORDED)
    assert not missing, (
        f"README benchmark rows without recorded figures: {sorted(missing)}; run them with "
        "ARANEUS_BENCH_RECORD=1 (benchmarks/_results.py) or list the row in NOT_RECORDED"
    )
    assert set(NOT_RECORDED) <= rows  # the exceptions name real rows


def test_the_check_fails_on_a_drifted_readme(results):
    readme = README.read_text(encoding="utf-8")
    entry = results["benchmarks"]["bench_io"]["figures"]
    quoted = f"{entry['scan_json_read_s']} s"
    assert quoted in readme
    changed = readme.replace(quoted, "0.5 s", 1)
    assert any("scan_json_read_s" in p for p in drift(changed, results))
    gone = readme.replace("| `bench_io` |", "| `bench_io_old` |")
    assert any("no README row" in p for p in drift(gone, results))


def test_benchmarks_record_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    sys.modules.pop("_results", None)
    import _results

    monkeypatch.setattr(_results, "RESULTS", tmp_path / "results.json")
    monkeypatch.delenv(_results.ENV, raising=False)
    _results.record("bench_x", "t_s", 0.123456)
    assert not (tmp_path / "results.json").exists()  # a casual run writes nothing
    monkeypatch.setenv(_results.ENV, "1")
    _results.record("bench_x", "t_s", 0.123456)
    _results.record("bench_x", "rate", 4041.4)
    entry = json.loads((tmp_path / "results.json").read_text())["benchmarks"]["bench_x"]
    assert entry["figures"] == {"t_s": 0.123, "rate": 4041}  # as the README quotes them
    assert "seeded_from_readme" not in entry and entry["machine"]
    with pytest.raises(ValueError, match="finite"):
        _results.record("bench_x", "bad", float("nan"))
