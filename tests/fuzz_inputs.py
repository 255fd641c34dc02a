"""Shared pieces of the fuzz suites (tests/test_fuzz_*.py): seed files, mutations, checks.

* :func:`web_seeds` writes small valid files of every readable web format (several
  variants each: attributes, 2-D, ASCII/binary/big-endian PLY, faces, v4/v5 MAT, ...);
  a seed is a dict ``{file name: bytes}`` (two files for the CSV pair).
* :func:`mutated` is a hypothesis strategy that applies 1-4 byte- or token-level
  mutations (bit flips, cut, splice, duplicated lines, interesting numbers and keywords)
  to one file of a seed; :func:`json_mutated` mutates a parsed JSON tree instead.
* :func:`expect_araneus` runs a reader and returns its result, or None if it raised an
  :class:`~araneus.errors.AraneusError`; any other exception fails the test.
* :func:`assert_valid_web` checks that a successful read is a valid, JSON-round-trippable
  :class:`~araneus.web.WebGraph`.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from araneus import WebGraph
from araneus.errors import AraneusError
from araneus.io import ply as ply_mod
from araneus.io import write_web

#: Hypothesis settings of the fuzz suites: reproducible (derandomized, no example
#: database), no per-example deadline (timings on a shared 2-core machine vary).
FUZZ = dict(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz_settings(n: int) -> settings:
    """Settings for a fuzz test with ``n`` examples."""
    return settings(max_examples=n, **FUZZ)


def dir_fixture(name: str, subdirs: tuple[str, ...] = ()):
    """A module-scoped fixture: a fresh temporary folder with ``subdirs`` (hypothesis tests
    cannot use the function-scoped ``tmp_path``)."""

    @pytest.fixture(scope="module")
    def _dir(tmp_path_factory) -> Path:
        d = tmp_path_factory.mktemp(name)
        for sub in subdirs:
            (d / sub).mkdir()
        return d

    return _dir


# ----------------------------------------------------------------------------- seeds
def seed_web(text: bool = True) -> WebGraph:
    """A 6-node web with the attributes real files carry (and builders add)."""
    pos = np.array(
        [[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.5], [0.5, 0.5, 2], [2.25, -1, 1e-3]]
    )
    edges = [[0, 1], [1, 2], [2, 3], [0, 3], [3, 4], [1, 5]]
    node = {"anchor": np.array([1, 0, 0, 1, 0, 1], bool), "mass": np.linspace(0, 1, 6)}
    node["uv"] = np.arange(12.0).reshape(6, 2)
    if text:
        node["label"] = np.array(["a", "hub", "b c", "x,y", "", "z"])
    edge = {
        "thread": np.array([1, 2, 3, 3, 2, 7], np.int8),
        "radius": np.array([1e-3, 2e-3, 5e-4, 1e-3, 3e-3, 1e-4]),
        "force_density": np.array([1.5, -2.0, 0.0, 3.25, 1e9, 7.0]),
        "bridge": np.array([0, 1, 0, 0, 1, 0], np.int8),
    }
    return WebGraph(pos, edges, node, edge, {"units": "mm", "seed": 3})


def _bytes_of(writer: Callable[[Path], None], *names: str) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as d:
        writer(Path(d) / names[0])
        return {n: (Path(d) / n).read_bytes() for n in names}


@functools.cache
def web_seeds() -> dict[str, list[dict[str, bytes]]]:
    """Valid files per reader (keyed by the registry's reader spec), several variants each."""
    import scipy.io

    full, bare = seed_web(), seed_web().replace(node_attrs={}, edge_attrs={}, meta={})
    notext = seed_web(text=False)
    seeds: dict[str, list[dict[str, bytes]]] = {}
    seeds["json_fmt:read_json"] = [
        _bytes_of(lambda p: write_web(full, p), "w.json"),
        _bytes_of(lambda p: write_web(bare, p, "skeleton-json"), "w.json"),
        {"w.json": b'{"nodes": [[0,0],[1,1],[2,0]], "edges": [[0,1],[1,0],[2,2]], "k": 1}'},
    ]
    seeds["csv_fmt:read_csv"] = [
        _bytes_of(lambda p: write_web(full, p), "w.nodes.csv", "w.edges.csv"),
        {
            "w.nodes.csv": b"#ID;X;Y\n10;0;0\n7;1;0\nnan;2;0\n",
            "w.edges.csv": b"u;v;weight;thread\n10;7.0;1.5;radial\n7;nan;2;3\n",
        },
    ]
    seeds["graphml:read_graphml"] = [
        _bytes_of(lambda p: write_web(full, p), "w.graphml"),
        _bytes_of(lambda p: write_web(bare, p), "w.graphml"),
    ]
    seeds["matlab:read_mat"] = [
        _bytes_of(lambda p: write_web(notext, p), "w.mat"),
        _bytes_of(
            lambda p: scipy.io.savemat(p, {"nodes": bare.pos, "edges": bare.edges + 1.0}),
            "w.mat",
        ),
        _bytes_of(
            lambda p: scipy.io.savemat(
                p, {"nodes": bare.pos[:, :2], "edges": bare.edges + 1.0}, format="4"
            ),
            "w.mat",
        ),
    ]
    face = (
        b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        b"element face 1\nproperty list uchar int vertex_indices\nelement edge 2\n"
        b"property uchar vertex1\nproperty ushort vertex2\nproperty double w\nend_header\n"
        b"0 0\n1 0\n0 1\n3 0 1 2\n0 1 0.5\n1 2 -1\n"
    )
    seeds["ply:read_ply"] = [
        _bytes_of(lambda p: write_web(full, p), "w.ply"),
        _bytes_of(lambda p: write_web(full, p, "ply-ascii"), "w.ply"),
        _bytes_of(lambda p: ply_mod._write(notext, p, "binary_big_endian"), "w.ply"),
        {"w.ply": face},
    ]
    seeds["obj:read_obj"] = [
        _bytes_of(lambda p: write_web(bare, p), "w.obj"),
        {"w.obj": b"o web\nv 0 0 0\nv 1 0 0 1\nv 1 1 0 .5 .5 .5\nf 1 2 3\nl 1 2 3 -3\nl 1/1 2/2\n"},
    ]
    seeds["text:read_xyz"] = [
        _bytes_of(lambda p: write_web(bare, p), "w.xyz"),
        {"w.xyz": b"3\nwater\nO 0 0 0\nH 1 0 0\nH 0 1 0\n"},
    ]
    return seeds


# ----------------------------------------------------------------------------- mutations
#: Tokens that broke readers before: non-finite and out-of-range numbers, type-width
#: edges, format keywords, structure characters.
TOKENS = [
    b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"1e308", b"1e309", b"-1", b"0", b"-0",
    b"0.5", b"1.7", b"255", b"258", b"65536", b"4294967296", b"9223372036854775808",
    b"1e-320", b"9" * 40, b"", b"\x00", b" ", b"\t", b"\r", b"\n", b"true", b"null",
    b'"', b"'", b",", b";", b"[", b"]", b"{", b"}", b"<", b">", b"end_header",
    b"element edge 0", b"property float vertex1", b"property uchar vertex2", b"#",
    b"comment araneus-meta ", b"l 1 2", b"v 1 2 3", b'"  "', b"\xff\xfe", b"\xc3\x28",
]  # fmt: skip


@st.composite
def _mutation(draw, data: bytes) -> bytes:
    n = len(data)
    op = draw(st.sampled_from(["flip", "set", "cut", "insert", "dup", "token", "line", "trunc"]))
    at = draw(st.integers(0, n)) if n else 0
    if op == "flip" and n:
        i = min(at, n - 1)
        return data[:i] + bytes([data[i] ^ (1 << draw(st.integers(0, 7)))]) + data[i + 1 :]
    if op == "set" and n:
        i = min(at, n - 1)
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    if op == "cut":
        return data[:at] + data[at + draw(st.integers(1, 64)) :]
    if op == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    if op == "dup":
        k = draw(st.integers(1, 256))
        return data[:at] + data[at : at + k] * draw(st.integers(2, 4)) + data[at:]
    if op == "token":
        tok = draw(st.sampled_from(TOKENS))
        end = at + draw(st.integers(0, 8))  # replace a short run (often a number) by it
        return data[:at] + tok + data[end:]
    if op == "line":
        lines = data.split(b"\n")
        i, j = (draw(st.integers(0, len(lines) - 1)) for _ in range(2))
        how = draw(st.sampled_from(["drop", "dup", "swap"]))
        if how == "drop":
            del lines[i]
        elif how == "dup":
            lines.insert(i, lines[j])
        else:
            lines[i], lines[j] = lines[j], lines[i]
        return b"\n".join(lines)
    return data[:at]


@st.composite
def mutated(draw, seed: dict[str, bytes]) -> dict[str, bytes]:
    """One file of ``seed`` (chosen) after 1-4 mutations; the other files unchanged."""
    out = dict(seed)
    name = draw(st.sampled_from(sorted(out)))
    data = out[name]
    for _ in range(draw(st.integers(1, 4))):
        data = draw(_mutation(data))
    out[name] = data
    return out


def json_values(max_leaves: int = 6) -> st.SearchStrategy:
    """Arbitrary JSON values, biased towards what breaks validation."""
    leaf = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0, 1, -1, 1e30, -1e30, 0.5, 2**63, "1", "int8", "<U300000000",
                         "float128", "O", "V8", "U5", "bool", "", "araneus-web"]),
        st.text(max_size=8),
    )  # fmt: skip
    return st.recursive(
        leaf,
        lambda ch: st.one_of(
            st.lists(ch, max_size=4), st.dictionaries(st.text(max_size=6), ch, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:8]):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def json_mutated(draw, doc: Any) -> Any:
    """``doc`` (parsed JSON) with 1-3 of its nodes replaced, deleted or deeply nested."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["replace", "replace", "delete", "nest"]))
        if not path:
            doc = draw(json_values()) if how != "nest" else _nest(doc, 100_000)
            continue
        parent = functools.reduce(lambda d, k: d[k], path[:-1], doc)
        key = path[-1]
        if how == "delete":
            del parent[key]
        elif how == "nest":
            parent[key] = _nest(parent[key], draw(st.sampled_from([2, 50, 100_000])))
        else:
            parent[key] = draw(json_values())
    return doc


class _Deep:
    """A JSON value nested ``depth`` lists deep, serialised without recursion."""

    def __init__(self, inner: Any, depth: int):
        self.inner, self.depth = inner, depth


def _nest(value: Any, depth: int) -> _Deep:
    return _Deep(value, depth)


def dump_json(doc: Any) -> bytes:
    """Serialise a (possibly :class:`_Deep`-holding) JSON document to bytes."""
    deep: list[_Deep] = []

    def default(o: Any) -> str:
        if isinstance(o, _Deep):
            deep.append(o)
            return f"\x00DEEP{len(deep) - 1}\x00"
        raise TypeError(type(o).__name__)

    text = json.dumps(doc, default=default, allow_nan=True)
    for k, d in enumerate(deep):
        inner = json.dumps(d.inner, default=default, allow_nan=True)
        text = text.replace(f'"\\u0000DEEP{k}\\u0000"', "[" * d.depth + inner + "]" * d.depth)
    return text.encode()


# ----------------------------------------------------------------------------- checks
def expect_araneus(fn: Callable[[], Any]) -> Any:
    """``fn()``; None if it raised an araneus error. Anything else fails the test."""
    try:
        return fn()
    except AraneusError:
        return None
    except Exception as exc:  # noqa: BLE001 - the point: report every other type
        raise AssertionError(
            f"non-araneus exception {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc


def assert_valid_web(web: Any, tmp: Path) -> None:
    """A successful read is a valid WebGraph that araneus JSON writes and reads back."""
    from araneus.io import read_web

    assert isinstance(web, WebGraph)
    again = WebGraph(web.pos, web.edges, web.node_attrs, web.edge_attrs, web.meta)
    assert again.n_nodes == web.n_nodes and again.n_edges == web.n_edges
    for attrs in (web.node_attrs, web.edge_attrs):
        for k, a in attrs.items():
            assert isinstance(k, str) and a.dtype.kind in "biufU", (k, a.dtype)
    out = tmp / "again.json"
    write_web(web, out)
    back = read_web(out)
    assert back.equals(web) and np.array_equal(back.edges, web.edges)
    for a, b in ((web.node_attrs, back.node_attrs), (web.edge_attrs, back.edge_attrs)):
        assert set(a) == set(b)
        for k in a:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
            assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), k
    assert json.dumps(back.meta, sort_keys=True, default=str) == json.dumps(
        web.meta, sort_keys=True, default=str
    )


def npz_bytes(members: dict[str, Any], compressed: bool = True) -> bytes:
    """A zip of ``.npy`` members (arrays, or raw bytes used as the member as they are)."""
    import zipfile

    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, val in members.items():
            if isinstance(val, bytes):
                zf.writestr(name + ".npy", val)
            else:
                b = io.BytesIO()
                np.lib.format.write_array(b, np.asarray(val), allow_pickle=True)
                zf.writestr(name + ".npy", b.getvalue())
    return buf.getvalue()
