"""Property-based fuzzing of the writers: whatever attributes a web holds, a writer either
refuses it with an :class:`~araneus.errors.InputError` before writing anything, or writes a
file that reads back with the same positions, edges, meta and attribute values.

Attributes are drawn with arbitrary names (coordinate/column names, ``name[k]``, case
variants, control characters) and dtypes (bool, every integer width, float16..longdouble,
text with control characters and blanks), 1-D and 2-D. An attribute may only be missing
after the round trip where ``docs/formats.md`` says the format leaves it out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from araneus import WebGraph
from araneus.errors import InputError
from araneus.io import read_web, write_web
from fuzz_inputs import dir_fixture, fuzz_settings, json_values

N_FAST, N_SLOW = 60, 400

_NAMES = ["x", "y", "z", "X", "id", "ID", "source", "target", "vertex1", "vertex2", "thread",
          "anchor", "a[0]", "a[1]", "label", " pad", "#h", "node", "Thread", "end_header",
          "w\nx", "tab\tbed", "é", "", "node_x", "ok_name", "force_density", "bridge"]  # fmt: skip
_DTYPES = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "g", "U"]
_TEXT = st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(
    ["", " a", "a ", "1", "2.5", "true", "nan", "\x00", "\r", "a\nb", "x,y", '"q"', "\ud800"]
)


@st.composite
def attr_arrays(draw, n: int) -> np.ndarray:
    dt = draw(st.sampled_from(_DTYPES))
    cols = draw(st.sampled_from([None, None, 1, 2, 3]))
    shape = (n,) if cols is None else (n, cols)
    if dt == "U":
        vals = draw(st.lists(_TEXT, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        return np.array(vals, dtype=str).reshape(shape) if vals else np.zeros(shape, "U1")
    elements = None
    if dt[0] in "fg":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=16 if dt == "f2" else
                             32 if dt == "f4" else 64)  # fmt: skip
    dtype = np.dtype(np.longdouble if dt == "g" else dt)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def attr_webs(draw) -> WebGraph:
    n = draw(st.integers(0, 6))
    pos = draw(hnp.arrays(np.float64, (n, 3), elements=st.floats(-1e6, 1e6)))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=8)) if pairs else []
    m = len(edges)
    names = st.sampled_from(_NAMES) | st.text(max_size=5)
    node = draw(st.dictionaries(names, attr_arrays(n), max_size=3))
    edge = draw(st.dictionaries(names, attr_arrays(m), max_size=3))
    if draw(st.booleans()):
        edge["thread"] = np.array(draw(st.lists(st.integers(0, 10), min_size=m, max_size=m)),
                                  dtype=np.int8)  # fmt: skip
    meta = draw(st.dictionaries(st.text(max_size=5), json_values(4), max_size=3))
    return WebGraph(pos, np.array(edges, dtype=np.int64).reshape(-1, 2), node, edge, meta)


def _left_out(fmt: str, name: str, a: np.ndarray) -> bool:
    """Attributes ``docs/formats.md`` says the format does not carry."""
    if fmt in ("ply", "ply-ascii"):
        return a.ndim != 1 or a.dtype.kind not in "biuf" or not (name.isascii()
                                                                and name.isidentifier())  # fmt: skip
    if fmt == "mat":
        import re

        return (
            a.ndim > 2
            or a.dtype.kind not in "biuf"
            or not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,57}$", name)
        )
    return False


def _sorted_edges(web: WebGraph) -> WebGraph:
    order = np.lexsort(web.edges.T[::-1])
    return web.replace(edges=web.edges[order],
                       edge_attrs={k: v[order] for k, v in web.edge_attrs.items()})  # fmt: skip


def _same(a: np.ndarray, b: np.ndarray, exact: bool) -> bool:
    if a.shape != b.shape:
        return False
    if exact and a.dtype != b.dtype:
        return False
    if a.size == 0:
        return True
    if (a.dtype.kind == "U") != (b.dtype.kind == "U"):
        return False
    nan = a.dtype.kind == "f" and b.dtype.kind == "f"
    return bool(np.array_equal(a, b, equal_nan=nan))


def _check_roundtrip(web: WebGraph, fmt: str, d: Path) -> None:
    for old in d.iterdir():
        old.unlink()
    path = d / {"json": "w.json", "csv": "w.csv", "graphml": "w.graphml", "mat": "w.mat",
                "ply": "w.ply", "ply-ascii": "w.ply"}[fmt]  # fmt: skip
    try:
        write_web(web, path, fmt)
    except InputError as exc:
        assert list(d.iterdir()) == [], "a refused write left a file behind"
        event("refused: " + str(exc).split(":")[0][:30])
        return
    event("written")
    back = read_web(path, "ply" if fmt == "ply-ascii" else fmt)
    if fmt == "graphml":
        web, back = _sorted_edges(web), _sorted_edges(back)
    assert np.array_equal(back.pos, web.pos) and np.array_equal(back.edges, web.edges)
    for what, src, got, count in (
        ("node", web.node_attrs, back.node_attrs, web.n_nodes),
        ("edge", web.edge_attrs, back.edge_attrs, web.n_edges),
    ):
        assert set(got) <= set(src), f"{what} attributes appeared: {set(got) - set(src)}"
        for name, a in src.items():
            if name not in got:
                # GraphML knows attributes only from the nodes/edges that carry them
                assert _left_out(fmt, name, a) or (fmt == "graphml" and count == 0), (
                    f"{fmt} lost {what} attribute {name!r} ({a.dtype}, shape {a.shape})"
                )
                continue
            assert _same(a, got[name], exact=fmt == "json"), (
                f"{fmt} changed {what} attribute {name!r}: {a!r} -> {got[name]!r}"
            )
    if fmt != "csv":
        assert json.dumps(back.meta, sort_keys=True) == json.dumps(web.meta, sort_keys=True)


FORMATS = ["json", "csv", "graphml", "mat", "ply", "ply-ascii"]


wdir = dir_fixture("fuzz_write", tuple(FORMATS))


def _writer_test(n: int):
    @pytest.mark.parametrize("fmt", FORMATS)
    @fuzz_settings(n)
    @given(web=attr_webs())
    def roundtrip(fmt, web, wdir):
        _check_roundtrip(web, fmt, wdir / fmt)

    return roundtrip


test_writers_refuse_or_roundtrip = _writer_test(N_FAST)
test_writers_refuse_or_roundtrip_slow = pytest.mark.slow(_writer_test(N_SLOW))
