"""PLY (Stanford polygon format) with ``vertex`` and ``edge`` elements, ASCII and binary.

Reading handles ``ascii``, ``binary_little_endian`` and ``binary_big_endian`` bodies with
numpy structured dtypes (one ``frombuffer`` per element). ``vertex`` needs properties
``x``, ``y`` (``z`` optional); ``edge`` needs ``vertex1``, ``vertex2`` (0-based). Other
scalar properties become node/edge attributes with their PLY type. Other elements (e.g.
``face``, also with list properties) are skipped and counted in the report notes.

Writing stores positions as ``double`` (exact round trip), ``vertex1``/``vertex2`` as
``int``, and 1-D numeric attributes as properties; booleans are ``uchar`` flagged by a
``comment araneus-bool <element> <name>`` line, and ``meta`` travels as one
``comment araneus-meta <json>`` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_output, read_input_bytes
from ..errors import FormatError
from ..web import WebGraph
from ._carry import CarryRules, check_carry
from ._common import (
    ReadReport,
    build_web,
    float_matrix,
    index_matrix,
    mark_bools,
    meta_from_json,
    meta_to_json,
    scalar_attrs,
    thread_names_to_codes,
)

PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}
_NP_TO_PLY = {
    "i1": "char",
    "u1": "uchar",
    "i2": "short",
    "u2": "ushort",
    "i4": "int",
    "u4": "uint",
    "f4": "float",
    "f8": "double",
}
_ENDIAN = {"ascii": None, "binary_little_endian": "<", "binary_big_endian": ">"}


@dataclass
class _Element:
    name: str
    count: int
    props: list[tuple[str, str]] = field(default_factory=list)  # (name, numpy code)
    lists: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (count, item)
    order: list[str] = field(default_factory=list)


def _header_end(path: Path, data: bytes) -> tuple[int, int]:
    """(offset of the ``end_header`` line, offset of the body): the first line that *is*
    ``end_header``, so a comment mentioning it (meta text) does not end the header."""
    pos = 0
    while True:
        k = data.find(b"end_header", pos)
        if k < 0:
            raise FormatError(path, "header has no 'end_header' line (truncated or not PLY)")
        start = data.rfind(b"\n", 0, k) + 1
        nl = data.find(b"\n", k)
        line = data[start : len(data) if nl < 0 else nl]
        if line.strip() == b"end_header":
            return start, len(data) if nl < 0 else nl + 1
        pos = k + len(b"end_header")


def _parse_header(path: Path, data: bytes) -> tuple[str, list[_Element], int, list[str]]:
    if not data.startswith(b"ply"):
        raise FormatError(path, "not a PLY file (does not start with 'ply')", "line 1")
    end, body = _header_end(path, data)
    try:
        lines = data[:end].decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise FormatError(path, "header is not ASCII text") from None
    if not lines or lines[0].strip() != "ply":
        raise FormatError(path, "not a PLY file (first line is not 'ply')", "line 1")
    fmt, elements, comments = None, [], []
    for k, raw in enumerate(lines[1:], start=2):
        tok = raw.split()
        where = f"header line {k}"
        if not tok or tok[0] in ("obj_info",):
            continue
        if tok[0] == "comment":
            comments.append(raw.strip()[len("comment") :].strip())
        elif tok[0] == "format":
            if len(tok) != 3 or tok[1] not in _ENDIAN:
                raise FormatError(path, f"unknown PLY format line {raw.strip()!r}", where)
            fmt = tok[1]
        elif tok[0] == "element":
            if len(tok) != 3 or not tok[2].isdecimal() or len(tok[2]) > 18:
                raise FormatError(path, f"bad element line {raw.strip()!r}", where)
            if any(el.name == tok[1] for el in elements):
                raise FormatError(path, f"element {tok[1]!r} declared twice", where)
            elements.append(_Element(tok[1], int(tok[2])))
        elif tok[0] == "property":
            if not elements:
                raise FormatError(path, "property before any element", where)
            el = elements[-1]
            if tok[-1] in el.order:
                raise FormatError(
                    path, f"property {tok[-1]!r} declared twice in element {el.name!r}", where
                )
            if len(tok) == 5 and tok[1] == "list" and tok[2] in PLY_TYPES and tok[3] in PLY_TYPES:
                el.lists[tok[4]] = (PLY_TYPES[tok[2]], PLY_TYPES[tok[3]])
                el.order.append(tok[4])
            elif len(tok) == 3 and tok[1] in PLY_TYPES:
                el.props.append((tok[2], PLY_TYPES[tok[1]]))
                el.order.append(tok[2])
            else:
                raise FormatError(path, f"bad property line {raw.strip()!r}", where)
        else:
            raise FormatError(path, f"unknown header keyword {tok[0]!r}", where)
    if fmt is None:
        raise FormatError(path, "header has no 'format' line")
    return fmt, elements, body, comments


def _read_ascii(path: Path, data: bytes, body: int, elements: list[_Element], hlines: int) -> dict:
    try:
        lines = data[body:].decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise FormatError(path, "ASCII body holds non-text bytes") from None
    out: dict[str, dict[str, np.ndarray]] = {}
    i = 0
    for el in elements:
        start = i
        if el.lists:  # skipped element: one line per row
            if start + el.count > len(lines):
                r = len(lines) - start
                raise FormatError(path, f"file ends inside element {el.name!r} (row {r})")
            i = start + el.count
            continue
        rows = [ln.split() for ln in lines[start : start + el.count]]
        if len(rows) < el.count:
            raise FormatError(
                path, f"file ends after {len(rows)} of {el.count} rows", f"element {el.name!r}"
            )
        i = start + el.count
        first = hlines + 1 + start
        vals = float_matrix(
            path,
            rows,
            f"element {el.name!r}",
            (len(el.props),),
            lambda r, f=first: f"line {f + r}",
            finite=False,
        )
        out[el.name] = {
            name: _ascii_column(path, name, code, vals[:, k], first)
            for k, (name, code) in enumerate(el.props)
        }
    extra = next((k for k in range(i, len(lines)) if lines[k].strip()), None)
    if extra is not None:
        raise FormatError(
            path,
            f"{sum(1 for ln in lines[i:] if ln.strip())} data line(s) after the last element "
            "the header declares (an element count too small?)",
            f"line {hlines + 1 + extra}",
        )
    return out


def _ascii_column(path: Path, name: str, code: str, col: np.ndarray, first: int) -> np.ndarray:
    """An ASCII column as its declared PLY type, refusing values the type cannot hold."""
    dt = np.dtype(code)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        bad = (col != np.round(col)) | (col < info.min) | (col > info.max) | np.isnan(col)
        what = f"an integer in [{info.min}, {info.max}]"
    else:
        big = np.finfo(dt).max
        bad = np.isfinite(col) & (np.abs(col) > big)
        what = f"within the range of {_NP_TO_PLY[dt.str[1:]]}"
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise FormatError(
            path,
            f"property {name!r} ({_NP_TO_PLY[dt.str[1:]]}) must be {what}, got {col[r]}",
            f"line {first + r}",
        )
    return col.astype(dt)


def _read_binary(path: Path, data: bytes, body: int, elements: list[_Element], endian: str) -> dict:
    out: dict[str, dict[str, np.ndarray]] = {}
    off = body
    for el in elements:
        if el.lists:
            off = _skip_list_element(path, data, off, el, endian)
            continue
        dt = np.dtype([(n, endian + c) for n, c in el.props])
        need = dt.itemsize * el.count
        if off + need > len(data):
            raise FormatError(
                path,
                f"truncated: needs {need} bytes, {len(data) - off} left",
                f"element {el.name!r}",
            )
        arr = np.frombuffer(data, dtype=dt, count=el.count, offset=off)
        off += need
        out[el.name] = {n: arr[n].astype(arr[n].dtype.newbyteorder("=")) for n, _ in el.props}
    if data[off:].strip(b" \t\r\n\x00"):
        raise FormatError(
            path,
            f"{len(data) - off} bytes after the last element the header declares "
            "(an element count too small?)",
        )
    return out


def _skip_list_element(path: Path, data: bytes, off: int, el: _Element, endian: str) -> int:
    scal = dict(el.props)
    for r in range(el.count):
        for name in el.order:
            if name in el.lists:
                cdt, idt = (np.dtype(endian + c) for c in el.lists[name])
                if off + cdt.itemsize > len(data):
                    raise FormatError(path, "truncated", f"element {el.name!r} row {r}")
                n = int(np.frombuffer(data, cdt, 1, off)[0])
                off += cdt.itemsize + n * idt.itemsize
            else:
                off += np.dtype(scal[name]).itemsize
        if off > len(data):
            raise FormatError(path, "truncated", f"element {el.name!r} row {r}")
    return off


def read_ply(path: Path, fmt: str = "ply") -> tuple[WebGraph, ReadReport]:
    """Read a PLY file with ``vertex`` (x, y[, z]) and optional ``edge`` (vertex1, vertex2)."""
    data = read_input_bytes(path)
    if not data:
        raise FormatError(path, "file is empty")
    kind, elements, body, comments = _parse_header(path, data)
    hlines = data[:body].count(b"\n")
    endian = _ENDIAN[kind]
    if endian is None:
        els = _read_ascii(path, data, body, elements, hlines)
    else:
        els = _read_binary(path, data, body, elements, endian)
    if "vertex" not in els:
        raise FormatError(path, "no 'vertex' element (with scalar properties)")
    v = els["vertex"]
    for c in ("x", "y"):
        if c not in v:
            raise FormatError(path, f"vertex element has no property {c!r}", "element 'vertex'")
    xyz = np.stack([v["x"], v["y"], v.get("z", np.zeros(len(v["x"])))], axis=1)
    pos = float_matrix(
        path, xyz.astype(np.float64), "vertex", (3,), lambda r: f"element 'vertex' row {r}"
    )
    e = els.get("edge", {"vertex1": np.zeros(0, np.int64), "vertex2": np.zeros(0, np.int64)})
    for c in ("vertex1", "vertex2"):
        if c not in e:
            raise FormatError(path, f"edge element has no property {c!r}", "element 'edge'")
    eloc = lambda r: f"element 'edge' row {r}"  # noqa: E731
    ends = np.stack([e["vertex1"], e["vertex2"]], axis=1)  # float types: integral values only
    edges = index_matrix(path, ends if ends.dtype.kind in "iu" else ends.astype(np.float64),
                         "edge", eloc)  # fmt: skip
    bools, meta = _read_comments(path, comments)
    node_attrs = {k: a for k, a in v.items() if k not in ("x", "y", "z")}
    edge_attrs = {k: a for k, a in e.items() if k not in ("vertex1", "vertex2")}
    for elname, attrs in (("vertex", node_attrs), ("edge", edge_attrs)):
        mark_bools(attrs, [k for el, k in bools if el == elname])
    if "thread" in edge_attrs:
        edge_attrs["thread"] = thread_names_to_codes(path, edge_attrs["thread"], eloc)
    skipped = {el.name: el.count for el in elements if el.name not in ("vertex", "edge")}
    notes = {"elements_skipped": skipped} if skipped else {}
    return build_web(
        path,
        fmt,
        pos,
        edges,
        node_attrs,
        edge_attrs,
        meta,
        node_loc=lambda r: f"element 'vertex' row {r}",
        edge_loc=eloc,
        notes=notes,
    )


def _read_comments(path: Path, comments: list[str]) -> tuple[set, dict[str, Any]]:
    bools, meta = set(), {}
    for c in comments:
        tok = c.split(None, 1)
        if not tok:
            continue
        if tok[0] == "araneus-bool" and len(tok) == 2 and len(tok[1].split()) == 2:
            bools.add(tuple(tok[1].split()))
        elif tok[0] == "araneus-meta" and len(tok) == 2:
            meta = meta_from_json(path, tok[1], "header comment araneus-meta")
    return bools, meta


RULES = CarryRules(
    "PLY",
    node_reserved=frozenset({"x", "y", "z"}),
    edge_reserved=frozenset({"vertex1", "vertex2"}),
    max_exact_int=2**53,
)


def _carried(name: str, a: np.ndarray) -> bool:
    """PLY carries 1-D numeric/bool attributes whose name is an ASCII identifier."""
    return a.ndim == 1 and a.dtype.kind in "biuf" and name.isascii() and name.isidentifier()


def _columns(attrs: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    out = []
    for k, a in scalar_attrs(attrs).items():
        if not _carried(k, a):
            continue
        if a.dtype.kind == "b":
            a = a.astype(np.uint8)
        elif a.dtype.str[1:] not in _NP_TO_PLY:
            info = np.iinfo(np.int32) if a.dtype.kind in "iu" else None
            ok = info is not None and (len(a) == 0 or (a.min() >= info.min and a.max() <= info.max))
            a = a.astype(np.int32) if ok else a.astype(np.float64)
        out.append((k, a))
    return out


def _tables(web: WebGraph) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    vert = [("x", web.pos[:, 0]), ("y", web.pos[:, 1]), ("z", web.pos[:, 2])]
    edge = [
        ("vertex1", web.edges[:, 0].astype(np.int32)),
        ("vertex2", web.edges[:, 1].astype(np.int32)),
    ]
    return [("vertex", vert + _columns(web.node_attrs)), ("edge", edge + _columns(web.edge_attrs))]


def _header(web: WebGraph, kind: str, tables: list) -> bytes:
    lines = ["ply", f"format {kind} 1.0", "comment written by araneus"]
    for el, attrs in (("vertex", web.node_attrs), ("edge", web.edge_attrs)):
        lines += [
            f"comment araneus-bool {el} {k}"
            for k, a in scalar_attrs(attrs).items()
            if a.dtype.kind == "b" and _carried(k, a)
        ]
    if web.meta:
        lines.append("comment araneus-meta " + meta_to_json(web.meta))
    for (name, cols), n in zip(tables, (web.n_nodes, web.n_edges)):
        lines.append(f"element {name} {n}")
        lines += [f"property {_NP_TO_PLY[a.dtype.str[1:]]} {k}" for k, a in cols]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii", "replace")


def _write(web: WebGraph, path: Path, kind: str) -> None:
    check_carry(web, RULES, _carried)
    tables = _tables(web)
    parts = [_header(web, kind, tables)]
    for _, cols in tables:
        if kind == "ascii":
            strs = [list(map(str, a.tolist())) for _, a in cols]
            text = "\n".join(" ".join(r) for r in zip(*strs))
            parts.append((text + "\n").encode("ascii") if text else b"")
        else:
            order = _ENDIAN[kind]
            arr = np.empty(len(cols[0][1]), dtype=[(k, order + a.dtype.str[1:]) for k, a in cols])
            for k, a in cols:
                arr[k] = a
            parts.append(arr.tobytes())
    with atomic_output(path) as tmp:
        tmp.write_bytes(b"".join(parts))


def write_ply_binary(web: WebGraph, path: Path) -> None:
    """Write binary little-endian PLY (vertex + edge elements)."""
    _write(web, path, "binary_little_endian")


def write_ply_ascii(web: WebGraph, path: Path) -> None:
    """Write ASCII PLY (vertex + edge elements)."""
    _write(web, path, "ascii")
