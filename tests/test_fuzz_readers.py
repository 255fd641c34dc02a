"""Property-based fuzzing of every web reader of the format registry.

Each is fed arbitrary bytes (some behind a format's magic prefix) and mutated valid files
(byte and token mutations of several seed files per format, JSON-tree mutations). The
property: the reader either raises an :class:`~araneus.errors.AraneusError` or returns a
WebGraph that is valid and round-trips through araneus JSON. Any other exception fails.
The dataset loader and the reference importer are fuzzed in ``test_fuzz_datasets.py``.

Web readers are called directly (``FileFormat.reader``), below ``read_web``'s last-resort
conversion of stray ValueErrors, so a reader that relies on that net fails here.
The default run is derandomized (reproducible); ``make test-slow`` runs ten times more.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from araneus.io import available_formats
from fuzz_inputs import (
    assert_valid_web,
    dir_fixture,
    dump_json,
    expect_araneus,
    fuzz_settings,
    json_mutated,
    mutated,
    web_seeds,
)

#: Examples per test in the default run and in ``make test-slow``.
N_FAST, N_SLOW = 120, 1000

READERS = sorted({f.reader for f in available_formats().values() if f.reader})
_FORMAT_OF = {f.reader: f for f in reversed(list(available_formats().values())) if f.reader}
MAGIC = {
    "json_fmt:read_json": [b'{"format": "araneus-web", "version": 1, "nodes": ', b'{"nodes": '],
    "csv_fmt:read_csv": [b"id,x,y,z\n", b"source,target\n"],
    "graphml:read_graphml": [b"<graphml><graph><node id='a'>", b"<?xml version='1.0'?>"],
    "matlab:read_mat": [b"MATLAB 5.0 MAT-file".ljust(124, b" ") + b"\x00\x01IM"],
    "ply:read_ply": [b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\n",
                     b"ply\nformat binary_little_endian 1.0\nelement vertex 1\n"],
    "obj:read_obj": [b"v 0 0 0\nv 1 1 1\nl "],
    "text:read_xyz": [b"2\ncomment\n"],
}  # fmt: skip


fuzz_dir = dir_fixture("fuzz", ("read_json_tree",) + tuple(s.split(":")[1] for s in READERS))


def test_every_reader_has_seeds():
    assert set(READERS) <= set(web_seeds()), "add seed files for a new format to fuzz_inputs"
    assert set(READERS) <= set(MAGIC)


def _run_reader(spec: str, files: dict[str, bytes], d: Path) -> None:
    """Write ``files`` into ``d`` and read them with reader ``spec``: an araneus error or a
    valid web, nothing else."""
    for old in d.iterdir():
        old.unlink()
    for name, data in files.items():
        (d / name).write_bytes(data)
    fmt = _FORMAT_OF[spec]
    path = d / ("w.csv" if spec.startswith("csv") else next(iter(files)))
    res = expect_araneus(lambda: fmt._load(spec)(path, fmt.name))
    if res is not None:
        web, report = res
        assert report.n_nodes == web.n_nodes and report.n_edges == web.n_edges
        assert_valid_web(web, d)


def _file_names(spec: str) -> list[str]:
    return sorted(web_seeds()[spec][0])


def _arbitrary(spec: str) -> st.SearchStrategy:
    raw = st.binary(max_size=3000)
    prefixed = st.builds(bytes.__add__, st.sampled_from(MAGIC[spec]), raw)
    return st.lists(st.one_of(raw, prefixed), min_size=len(_file_names(spec)),
                    max_size=len(_file_names(spec)))  # fmt: skip


def _body_bytes(spec, blobs, fuzz_dir):
    _run_reader(spec, dict(zip(_file_names(spec), blobs)), fuzz_dir / spec.split(":")[1])


def _body_mutated(spec, data, fuzz_dir):
    seeds = web_seeds()[spec]
    seed = seeds[data.draw(st.integers(0, len(seeds) - 1), label="seed")]
    files = data.draw(mutated(seed), label="files")
    _run_reader(spec, files, fuzz_dir / spec.split(":")[1])


def _body_json_tree(data, fuzz_dir):
    seeds = web_seeds()["json_fmt:read_json"]
    doc = json.loads(seeds[data.draw(st.integers(0, len(seeds) - 1))]["w.json"])
    files = {"w.json": dump_json(data.draw(json_mutated(doc), label="doc"))}
    _run_reader("json_fmt:read_json", files, fuzz_dir / "read_json_tree")


def _reader_tests(n: int):
    @pytest.mark.parametrize("spec", READERS)
    @fuzz_settings(n)
    @given(blobs=st.data())
    def arbitrary(spec, blobs, fuzz_dir):
        _body_bytes(spec, blobs.draw(_arbitrary(spec), label="blobs"), fuzz_dir)

    @pytest.mark.parametrize("spec", READERS)
    @fuzz_settings(2 * n)
    @given(data=st.data())
    def mutants(spec, data, fuzz_dir):
        _body_mutated(spec, data, fuzz_dir)

    @fuzz_settings(2 * n)
    @given(data=st.data())
    def json_tree(data, fuzz_dir):
        _body_json_tree(data, fuzz_dir)

    return arbitrary, mutants, json_tree


test_readers_arbitrary_bytes, test_readers_mutated_files, test_json_tree_mutations = _reader_tests(
    N_FAST
)
_slow = _reader_tests(N_SLOW)
test_readers_arbitrary_bytes_slow = pytest.mark.slow(_slow[0])
test_readers_mutated_files_slow = pytest.mark.slow(_slow[1])
test_json_tree_mutations_slow = pytest.mark.slow(_slow[2])
